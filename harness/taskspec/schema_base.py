"""The base every task-file schema model shares, and the lexical check of relative paths."""

from __future__ import annotations

import os

from pydantic import BaseModel, ConfigDict


class StrictModel(BaseModel):
    """Base for every schema model: unknown keys are rejected, values are immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)


def check_relative(value: str, what: str) -> str:
    """Refuse a path that is absolute or climbs out of its root with ``..`` (checked lexically,
    as :func:`harness.data.resolve_inside` does at run time), so the error names file and line."""
    if os.path.isabs(value) or value.startswith("~"):
        raise ValueError(f"{what} '{value}' must be a relative path")
    if value and os.path.normpath(value).split(os.sep)[0] == os.pardir:
        raise ValueError(f"{what} '{value}' escapes its root folder")
    return value
