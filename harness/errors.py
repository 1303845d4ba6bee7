"""User-facing errors: one clear line, no traceback by default."""

from __future__ import annotations


class HarnessError(Exception):
    """An error caused by the user's input (task file, data, model, flags).

    The CLI prints ``str(error)`` on one line and exits with status 2; tracebacks are shown
    only with ``--debug``.
    """


class TaskFileError(HarnessError):
    """A task file fails to parse or validate; the message names file, line and key."""


class DataError(HarnessError):
    """Dataset rows or media are missing, malformed or outside their root."""


class ModelError(HarnessError):
    """An unknown model name, a bad model argument or an unsupported checkpoint."""


class MediaError(DataError):
    """A media file is missing or cannot be decoded; ``path`` names it."""

    def __init__(self, message: str, path: str) -> None:
        super().__init__(message)
        self.path = path

    def __reduce__(self) -> tuple[type[MediaError], tuple[str, str]]:
        # Rebuilt from message and path when it crosses a process boundary (preprocessing workers).
        return (type(self), (str(self), self.path))
