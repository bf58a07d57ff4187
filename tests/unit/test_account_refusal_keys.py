"""Account, password and responder refusals carry a key both languages translate: 사용자 관리,
the first-run form and the responders form show them in the page's language (the message
itself stays English for the command line)."""

from __future__ import annotations

import ast
import string

import pytest

from dashboard.i18n import translate
from dashboard.settings import PROJECT_ROOT

MODULES = {
    "dashboard/auth/users.py": ("UserError", "user_error"),
    "dashboard/auth/passwords.py": ("WeakPasswordError", "user_error"),
    "dashboard/responders/registry.py": ("ResponderError", "responder_error"),
}


def _raises(path: str, name: str) -> list[ast.Call]:
    tree = ast.parse((PROJECT_ROOT / path).read_text(encoding="utf-8"))
    return [
        node.exc
        for node in ast.walk(tree)
        if isinstance(node, ast.Raise)
        and isinstance(node.exc, ast.Call)
        and isinstance(node.exc.func, ast.Name)
        and node.exc.func.id == name
    ]


@pytest.mark.parametrize("path", sorted(MODULES))
def test_every_refusal_has_a_key_both_languages_translate(path: str) -> None:
    name, section = MODULES[path]
    calls = _raises(path, name)
    assert calls, f"no {name} raised in {path}"
    for call in calls:
        kwargs = {k.arg: k.value for k in call.keywords}
        assert isinstance(kwargs.get("key"), ast.Constant), f"{path}:{call.lineno} has no key"
        key = kwargs["key"].value
        params = {k for k in kwargs if k not in ("key", None)}
        for lang in ("ko", "en"):
            text = translate(f"{section}.{key}", lang, **{p: "x" for p in params})
            assert "⟦" not in text, f"{lang} lacks {section}.{key}"
            wanted = {f for _, f, _, _ in string.Formatter().parse(text) if f}
            assert wanted <= params, f"{section}.{key} ({lang}) wants {wanted - params}"
            if lang == "ko":
                assert not any(w in text for w in ("must", "nknown", "exists", "NUL)")), text


def test_a_refused_user_reads_in_korean() -> None:
    from dashboard.auth.passwords import WeakPasswordError, check_password_rule

    with pytest.raises(WeakPasswordError) as caught:
        check_password_rule("short")
    err = caught.value
    assert "at least" in str(err)  # the command line's English
    assert "자 이상" in translate(f"user_error.{err.key}", "ko", **err.params)
