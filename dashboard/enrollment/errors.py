"""Refusals of the enrollment functions: what is wrong, with which field; nothing was written."""

from __future__ import annotations

from typing import Any


class EnrollmentError(ValueError):
    """A request the domain refuses (bad value, wrong state); ``field`` names the input.

    The message is English (CLI, logs); ``key`` and ``params`` let a page show the same refusal
    in its language (i18n ``enrollment_error.<key>``, formatted with ``params``).
    """

    def __init__(self, field: str, message: str, *, key: str | None = None, **params: Any) -> None:
        self.field, self.key, self.params = field, key, params
        super().__init__(f"{field}: {message}")


class NotFound(LookupError):
    def __init__(self, what: str, key: object) -> None:
        self.what, self.key = what, key
        super().__init__(f"no {what} {key!r}")
