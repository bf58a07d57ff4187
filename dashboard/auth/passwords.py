"""Password hashing with Argon2id (argon2-cffi, RFC 9106 parameters) and the password rule."""

from __future__ import annotations

from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

MIN_LENGTH = 10
MAX_LENGTH = 256  # hashing cost grows with length; nobody types more

_hasher = PasswordHasher()


def _dummy_hash() -> str:
    """Verified when the username is unknown so a miss costs as long as a wrong password. Made
    on the first check, not at import (a hash takes 0.1 s: every command would pay it), and
    again for another hasher (tests swap in a cheap one), so it always costs what a hit does."""
    return _dummy_for(_hasher)


@cache
def _dummy_for(hasher: PasswordHasher) -> str:
    return hasher.hash("anbu: no such user")


class WeakPasswordError(ValueError):
    """The password does not meet the rule; the message says which part (English), ``key`` and
    ``params`` the same for a page (i18n ``user_error.<key>``)."""

    def __init__(self, message: str, *, key: str, **params: object) -> None:
        self.key, self.params = key, params
        super().__init__(message)


def check_password_rule(password: str) -> None:
    if len(password) < MIN_LENGTH:
        raise WeakPasswordError(
            f"the password needs at least {MIN_LENGTH} characters",
            key="password_short",
            n=MIN_LENGTH,
        )
    if len(password) > MAX_LENGTH:
        raise WeakPasswordError(
            f"the password may have at most {MAX_LENGTH} characters",
            key="password_long",
            n=MAX_LENGTH,
        )
    if password.strip() != password:
        raise WeakPasswordError(
            "the password may not start or end with a space", key="password_spaces"
        )


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    """Constant-ish time check; a missing or corrupt hash never matches."""
    if len(password) > MAX_LENGTH:
        password = password[:MAX_LENGTH]  # still spend the time, never match a cut password
        password_hash = None
    dummy = _dummy_hash()  # before the branch: the first check costs as much, hit or miss
    try:
        return _hasher.verify(password_hash or dummy, password) and bool(password_hash)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    """True when the stored hash uses older parameters than the current hasher."""
    try:
        return _hasher.check_needs_rehash(password_hash)
    except InvalidHashError:
        return True
