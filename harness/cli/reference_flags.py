"""Flags shared by the two reference-compatible doors (``eval.py`` and the MMEB-V2 modality runner)."""

from __future__ import annotations

import argparse
from typing import Any

from harness.models import REFERENCE_RESIZE_ADAPTERS


def add_resize_flags(parser: argparse.ArgumentParser) -> None:
    """``--resize_min_pixels`` / ``--resize_max_pixels``; unset means the adapter's own defaults."""
    for bound in ("min", "max"):
        parser.add_argument(
            f"--resize_{bound}_pixels",
            type=int,
            default=None,
            help=f"the reference's {bound}imum image pixels (default: the adapter's, as the reference's)",
        )


def resize_model_args(adapter: str, min_pixels: int | None, max_pixels: int | None) -> dict[str, Any]:
    """The resize bounds as ``model_args`` of ``adapter``: only for adapters that take them, only when given."""
    if adapter not in REFERENCE_RESIZE_ADAPTERS:
        return {}
    given = {"min_pixels": min_pixels, "max_pixels": max_pixels}
    return {key: value for key, value in given.items() if value is not None}
