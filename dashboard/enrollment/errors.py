"""Refusals of the enrollment functions: what is wrong, with which field; nothing was written."""

from __future__ import annotations


class EnrollmentError(ValueError):
    """A request the domain refuses (bad value, wrong state); ``field`` names the input."""

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        super().__init__(f"{field}: {message}")


class NotFound(LookupError):
    def __init__(self, what: str, key: object) -> None:
        self.what, self.key = what, key
        super().__init__(f"no {what} {key!r}")
