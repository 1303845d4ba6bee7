"""Parse ``--model_args k=v,k2=v2`` into typed values (lm-eval's convention)."""

from __future__ import annotations

from typing import Any

from harness.errors import ModelError


def parse_model_args(text: str | None) -> dict[str, Any]:
    """``"a=1,b=true,c=x"`` → ``{"a": 1, "b": True, "c": "x"}``; quotes keep a value a string."""
    if not text:
        return {}
    parsed: dict[str, Any] = {}
    for item in text.split(","):
        if not item.strip():
            continue
        key, sep, value = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise ModelError(f"--model_args: expected key=value, got '{item}'")
        if key in parsed:
            raise ModelError(f"--model_args: '{key}' given twice")
        parsed[key] = _typed(value.strip())
    return parsed


def _typed(value: str) -> Any:
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
        return value[1:-1]
    lowered = value.lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    if lowered in ("none", "null"):
        return None
    for convert in (int, float):
        try:
            return convert(value)
        except ValueError:
            pass
    return value
