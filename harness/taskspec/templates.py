"""Jinja templates of task files, rendered in a bounded sandbox.

Task files come from strangers, so templates run in :class:`BoundedEnvironment`: jinja2's
``ImmutableSandboxedEnvironment`` (no attribute tricks, no mutation of the row) whose every
loop, call, operator, filter and output is bounded in time and size (see
:mod:`harness.taskspec.template_sandbox`; the limits are in :mod:`harness.taskspec.limits`),
with ``StrictUndefined`` (a misspelled column is an error, never an empty string). Output is
streamed and counted, so a render that would be too long stops early instead of being built
and then measured.
"""

from __future__ import annotations

import hashlib
import posixpath
import warnings
from collections.abc import Generator, Mapping
from functools import lru_cache
from typing import Any, cast

from jinja2 import StrictUndefined, Template, TemplateSyntaxError, UndefinedError
from jinja2.sandbox import SecurityError

from harness.inputs import AUDIO_MARKER, IMAGE_MARKER, VIDEO_MARKER
from harness.taskspec.limits import TEMPLATE_MAX_CHARS
from harness.taskspec.template_budget import TemplateError, begin_render, end_render
from harness.taskspec.template_json import dumpjson, fromjson
from harness.taskspec.template_sandbox import BoundedEnvironment

__all__ = ["AUDIO_MARKER", "IMAGE_MARKER", "VIDEO_MARKER", "TemplateError", "check_template", "render"]


def _basename(path: str) -> str:
    """``a/b/c.mp4`` -> ``c.mp4`` (``os.path.basename`` on POSIX)."""
    return posixpath.basename(str(path))


def _stem(path: str) -> str:
    """``a/b/c.mp4`` -> ``c``: ``os.path.splitext(os.path.basename(path))[0]``, as the reference
    names frame folders after their video (``.hidden`` stays ``.hidden``, ``a.b.mp4`` -> ``a.b``)."""
    return posixpath.splitext(_basename(path))[0]


def _splitext(path: str) -> list[str]:
    """``a/b.c.jpg`` -> ``["a/b.c", ".jpg"]``: ``os.path.splitext`` on POSIX, as a list."""
    return list(posixpath.splitext(str(path)))


def _md5(text: str) -> str:
    """The MD5 hex digest of ``text``'s UTF-8 bytes (the reference shortens VisRAG page file names
    with it); a file name, not a security measure."""
    return hashlib.md5(str(text).encode("utf-8"), usedforsecurity=False).hexdigest()


_ENV = BoundedEnvironment(
    filters={
        "basename": _basename,
        "stem": _stem,
        "splitext": _splitext,
        "md5": _md5,
        "fromjson": fromjson,
        "dumpjson": dumpjson,
    },
    undefined=StrictUndefined,
    keep_trailing_newline=True,
    autoescape=False,  # prompts are plain text, not HTML
)
_ENV.globals.update(IMAGE=IMAGE_MARKER, VIDEO=VIDEO_MARKER, AUDIO=AUDIO_MARKER)


@lru_cache(maxsize=4096)
def _compile(source: str) -> Template:
    if len(source) > TEMPLATE_MAX_CHARS:
        raise TemplateError(f"template has more than {TEMPLATE_MAX_CHARS} characters (template size limit)")
    try:
        with warnings.catch_warnings():  # Python's warnings about the generated code, e.g. `1[1:]`
            warnings.simplefilter("ignore", SyntaxWarning)
            return _ENV.from_string(source)
    except TemplateSyntaxError as error:
        raise TemplateError(
            f"template syntax error: {_one_line(error.message)} (template line {error.lineno})"
        ) from None
    except TemplateError:
        raise
    except (RecursionError, SyntaxError) as error:  # Python's own nesting limits, reached by the compiled code
        raise TemplateError(
            f"template nests too deeply to compile ({type(error).__name__}: {_one_line(error)})"
        ) from None
    except Exception as error:
        raise TemplateError(f"template cannot be compiled: {type(error).__name__}: {_one_line(error)}") from None


def check_template(source: str) -> None:
    """Raise :class:`TemplateError` if ``source`` is not valid Jinja (or is too long)."""
    _compile(source)


def render(source: str, variables: Mapping[str, Any]) -> str:
    """Render ``source`` with ``variables``; unknown names, sandbox violations and any limit raise."""
    template = _compile(source)
    budget, token = begin_render()
    # A generator, closed below even when a limit stops it early.
    chunks = cast(Generator[str, None, None], template.generate(**variables))
    try:
        parts = []
        for chunk in chunks:
            budget.produce(len(chunk) or 1)  # stops a too-long output while it streams
            parts.append(chunk)
        return "".join(parts)
    except UndefinedError as error:
        raise TemplateError(_undefined_message(error, variables)) from None
    except SecurityError as error:
        raise TemplateError(f"template not allowed by the sandbox: {_one_line(error)}") from None
    except TemplateError:
        raise
    except RecursionError:
        raise TemplateError("template recursion is too deep (Python's recursion limit)") from None
    except Exception as error:  # any other runtime failure inside the template
        raise TemplateError(f"template failed: {type(error).__name__}: {_one_line(error)}") from None
    finally:
        chunks.close()
        end_render(token)


def _one_line(error: object) -> str:
    """An exception's text on one line (messages of errors are one line each)."""
    return " ".join(str(error).split())


def _undefined_message(error: UndefinedError, variables: Mapping[str, Any]) -> str:
    # ``row`` holding the whole row (a mapping) is not a column of its own.
    hidden = {"IMAGE", "VIDEO", "AUDIO", *(["row"] if isinstance(variables.get("row"), Mapping) else [])}
    available = ", ".join(sorted(k for k in variables if k not in hidden))
    return f"{error.message} (columns: {available})"
