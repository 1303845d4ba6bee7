"""Image lists: a row's column of several image paths, read as VLM2Vec's GUI parser reads one.

The reference (``src/data/eval_dataset/gui_dataset.py``, ``process_multi_images``, VLM2Vec
44f991d) turns a cell into a list of paths: an empty cell (``None``, ``""``, ``[]``) is one slot
without an image; a text is read with ``ast.literal_eval`` and, when that fails, is itself the one
path; every entry that is empty (``""``, ``None``) is a slot without an image, every other entry is
joined to the image root; repeats are kept. Its collator (``src/data/collator/eval_collator.py``,
``_load_image_from_dict``) then reads each slot: an empty one, or one whose file does not exist,
holds no image (``None``).

Here each path is resolved inside the task's media root (absolute paths and ``..`` are refused),
and a missing file is an error unless the task file says ``image_lists.missing_file: empty_slot``.
Values the reference would crash on or misread (a number, a mapping, a quoted text that it would
iterate character by character, a list holding a non-text entry) are one-line errors, and so is
a list of more than :data:`MAX_LIST_ENTRIES` entries (the reference has no bound).
"""

from __future__ import annotations

import ast
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.data.paths import exists, is_file, resolve_inside
from harness.errors import DataError
from harness.inputs import IMAGE_MARKER, ImageData, ImageSlot

MAX_LITERAL_CHARS = 1 << 20
"""Longest text read as a Python list literal (1 MiB, the templates' render limit): longer is an error."""
MAX_LIST_ENTRIES = 1024
"""Most entries one image list may hold (a GUI row has a few screenshots; 1,024 images would be
over a million visual tokens): a longer list is an error before any of its paths is resolved."""


class ImageListError(ValueError):
    """A cell or a list that cannot be read; the caller adds the task, row and key."""


def list_entries(value: Any) -> list[str]:
    """The entries of an image-list cell as the reference reads them: ``""`` for a slot without an
    image, else a path relative to the media root (not yet resolved)."""
    if _empty(value):
        return [""]
    if isinstance(value, str):
        value = _literal_list(value)
    if not isinstance(value, list | tuple):
        raise ImageListError(f"must hold a list of image paths, got {type(value).__name__}")
    if len(value) > MAX_LIST_ENTRIES:
        raise ImageListError(f"a list of {len(value):,} entries is longer than {MAX_LIST_ENTRIES:,}")
    entries: list[str] = []
    for index, entry in enumerate(value):
        if isinstance(entry, str) or _empty(entry):
            entries.append(entry or "")  # the reference's "not image_path": a slot without an image
        else:
            raise ImageListError(f"entry {index} must be an image path, got {type(entry).__name__}")
    return entries or [""]


def _empty(value: Any) -> bool:
    """The reference's ``not value`` for the values a row can hold (None, "", 0, False, [], {})."""
    return value is None or (isinstance(value, str | int | float | list | tuple | dict) and not value)


def _literal_list(text: str) -> Any:
    """A text cell: the list (or tuple) its Python literal holds, else the text as the one path."""
    if len(text) > MAX_LITERAL_CHARS:
        raise ImageListError(f"a text of {len(text):,} characters is longer than {MAX_LITERAL_CHARS:,}")
    try:
        value = ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return [text]  # not a literal: the text is one path, as the reference reads it
    except (TypeError, RecursionError, MemoryError):
        raise ImageListError(f"the text {text[:60]!r} cannot be read as a list of paths") from None
    if isinstance(value, list | tuple):
        return value
    if value in ("", {}):
        return []  # iterating it gives no entry: one slot without an image
    raise ImageListError(
        f"the text {text[:60]!r} is a Python {type(value).__name__} literal, not a list of paths "
        "(the reference would iterate over it)"
    )


@dataclass
class SlotReader:
    """Resolves entries to image slots inside ``media_root``; collects the missing files it allowed."""

    media_root: Path
    check_media: bool
    missing_file: str
    """``error`` or ``empty_slot`` (``image_lists.missing_file``)."""
    missing: list[Path] = field(default_factory=list)
    """The listed files that did not exist and became empty slots."""

    def slots(self, entries: Sequence[str]) -> tuple[ImageSlot, ...]:
        """One slot per entry: the resolved file, or None for an empty entry (or an allowed missing file)."""
        resolved: list[ImageSlot] = []
        for entry in entries:
            if entry == "":
                resolved.append(None)
                continue
            try:
                path = resolve_inside(self.media_root, entry, what="media path")
            except DataError as error:
                raise ImageListError(str(error)) from None
            resolved.append(self._checked(path))
        return tuple(resolved)

    def _checked(self, path: Path) -> Path | None:
        if not self.check_media or is_file(path):
            return path
        if exists(path):
            raise ImageListError(f"media path is not a file: {path}")
        if self.missing_file == "empty_slot":
            self.missing.append(path)
            return None
        raise ImageListError(f"media file not found: {path} (image_lists.missing_file: empty_slot: no image)")


def split_slots(text: str, slots: tuple[ImageSlot, ...]) -> tuple[Path | ImageData | None, tuple[ImageSlot, ...]]:
    """The ``(image, images)`` of an input with ``text`` and these slots.

    Every slot holds an image: one is the input's ``image``; several need one marker each (the
    reference's processor fails otherwise). A slot without an image: the list goes to the adapter
    as it is, unless no slot holds an image and the text has no marker (then it is text alone).
    """
    markers = text.count(IMAGE_MARKER)
    present = [slot for slot in slots if slot is not None]
    if len(present) == len(slots):
        if len(slots) == 1:
            return slots[0], ()  # the single-image rules apply (one marker, checked by the caller)
        if markers != len(slots):
            raise ImageListError(
                f"an input with {len(slots)} images needs {len(slots)} {{{{ IMAGE }}}} markers, found {markers}"
            )
        return None, slots
    if not present and markers == 0:
        return None, ()
    return None, slots
