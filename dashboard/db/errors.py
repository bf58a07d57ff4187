"""The database errors a user fixes, apart from their alembic and schema imports: the CLI names
them at every start (``python -m dashboard replay --help`` need not import alembic)."""

from __future__ import annotations


class UnknownDatabaseError(RuntimeError):
    """The database has tables but no migration history: it is not ours to change."""


class SchemaOutdatedError(RuntimeError):
    """The configured server database needs ``python -m dashboard db upgrade``.

    ``empty`` is True for a database without any Anbu schema (a new city, which also needs its
    first account), False for one whose schema is at another revision than this code.
    """

    def __init__(self, message: str, *, empty: bool) -> None:
        super().__init__(message)
        self.empty = empty
