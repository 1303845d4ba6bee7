"""Jinja templates of task files, rendered in a sandbox.

Task files come from strangers, so templates run in jinja2's ``ImmutableSandboxedEnvironment``
(no attribute tricks, no mutation of the row) with ``StrictUndefined`` (a misspelled column is
an error, never an empty string).
"""

from __future__ import annotations

import posixpath
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from jinja2 import StrictUndefined, TemplateSyntaxError, UndefinedError
from jinja2.sandbox import ImmutableSandboxedEnvironment, SecurityError

IMAGE_MARKER = "<|image|>"
"""Backbone-neutral marker for "the image goes here"; adapters replace it with their own token."""
VIDEO_MARKER = "<|video|>"
"""Backbone-neutral marker for "the video goes here"."""

_ENV = ImmutableSandboxedEnvironment(
    undefined=StrictUndefined,
    keep_trailing_newline=True,
    autoescape=False,  # prompts are plain text, not HTML
)
_ENV.globals.update(IMAGE=IMAGE_MARKER, VIDEO=VIDEO_MARKER)


def _basename(path: str) -> str:
    """``a/b/c.mp4`` -> ``c.mp4`` (``os.path.basename`` on POSIX)."""
    return posixpath.basename(str(path))


def _stem(path: str) -> str:
    """``a/b/c.mp4`` -> ``c``: ``os.path.splitext(os.path.basename(path))[0]``, as the reference
    names frame folders after their video (``.hidden`` stays ``.hidden``, ``a.b.mp4`` -> ``a.b``)."""
    return posixpath.splitext(_basename(path))[0]


_ENV.filters.update(basename=_basename, stem=_stem)


class TemplateError(ValueError):
    """A template failed to compile or render; the message says why in one line."""


@lru_cache(maxsize=4096)
def _compile(source: str) -> Any:
    try:
        return _ENV.from_string(source)
    except TemplateSyntaxError as error:
        raise TemplateError(f"template syntax error: {error.message} (template line {error.lineno})") from None


def check_template(source: str) -> None:
    """Raise :class:`TemplateError` if ``source`` is not valid Jinja."""
    _compile(source)


def render(source: str, variables: Mapping[str, Any]) -> str:
    """Render ``source`` with ``variables``; unknown names and sandbox violations raise."""
    template = _compile(source)
    try:
        return str(template.render(**variables))
    except UndefinedError as error:
        raise TemplateError(_undefined_message(error, variables)) from None
    except SecurityError as error:
        raise TemplateError(f"template not allowed by the sandbox: {error}") from None
    except TemplateError:
        raise
    except Exception as error:  # any other runtime failure inside the template
        raise TemplateError(f"template failed: {type(error).__name__}: {error}") from None


def _undefined_message(error: UndefinedError, variables: Mapping[str, Any]) -> str:
    # ``row`` holding the whole row (a mapping) is not a column of its own.
    hidden = {"IMAGE", "VIDEO", *(["row"] if isinstance(variables.get("row"), Mapping) else [])}
    available = ", ".join(sorted(k for k in variables if k not in hidden))
    return f"{error.message} (columns: {available})"
