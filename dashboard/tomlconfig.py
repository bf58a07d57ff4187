"""Editable TOML configuration files validated by a pydantic model (rules, dispatch routing).

Leads edit these files; a bad edit must fail loudly with every wrong setting named, and a good
one must take effect without a restart.
"""

from __future__ import annotations

import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from pydantic import BaseModel, ValidationError

Model = TypeVar("Model", bound=BaseModel)


def parse_toml_model(
    text: str,
    model: type[Model],
    *,
    source: str,
    what: str,
    error: type[Exception],
    unknown_key_hint: str,
) -> Model:
    """Parse TOML text into ``model``; raise ``error`` listing each bad setting and where."""
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise error(f"{source}: not valid TOML: {exc}") from None
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            where = ".".join(str(p) for p in err["loc"]) or "(top level)"
            message = err["msg"].removeprefix("Value error, ")
            if err["type"] == "extra_forbidden":
                message = unknown_key_hint
            problems.append(f"  {where}: {message} (got {err.get('input')!r})")
        raise error(f"{source}: invalid {what}:\n" + "\n".join(problems)) from None


def read_config_text(path: Path, *, what: str, error: type[Exception]) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        raise error(f"{path}: cannot read {what}: {exc.strerror}") from None


def file_stamp(path: Path) -> int:
    """Modification time used as a cache key, so an edited file is read again."""
    try:
        return path.stat().st_mtime_ns
    except OSError:
        return -1


def reloading(
    load: Callable[[str], Model], default: Path | Callable[[], Path]
) -> Callable[..., Model]:
    """``current(path=None)``: ``load(path)``, cached until the file changes.

    ``default`` may be a function, asked at each call: a module's ``DEFAULT_PATH`` then stays
    the one place that says which file is read (a replay or a test points it at a copy).
    """
    cache: dict[str, tuple[int, Model]] = {}  # path -> (stamp, value): one version per file

    def current(path: Path | str | None = None) -> Model:
        if path is not None:
            target = Path(path)
        else:
            target = Path(default() if callable(default) else default)
        stamp = file_stamp(target)
        hit = cache.get(str(target))
        if hit is None or hit[0] != stamp:
            hit = (stamp, load(str(target)))  # raises on a bad file: nothing stale is kept
            cache[str(target)] = hit
        return hit[1]

    return current
