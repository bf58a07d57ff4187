"""A refusal that speaks two audiences: the English message is the contract (the CLI, the
HTTP API's JSON, logs); the i18n key (``import_error.<key>``) and parameters let a page say
the same refusal in its language."""

from __future__ import annotations

from typing import Any


class Refused(ValueError):
    """A file, cell or value the importers refuse, with its translation key and parameters."""

    def __init__(self, message: str, key: str, **params: Any) -> None:
        super().__init__(message)
        self.key, self.params = key, params
