"""Third-party adapters: packages that declare a ``harness.models`` entry point.

A plugin package adds, in its ``pyproject.toml``::

    [project.entry-points."harness.models"]
    my-model = "my_package.adapter"             # a module whose import runs @register_model(...)
    other-model = "my_package.adapter:create"   # or an encoder factory, registered as "other-model"

Plugins load once per process, after the built-in adapters; a plugin that fails to load is an
error naming it (never skipped silently). A plugin's encoder implements ``Encoder``; its
``metadata()`` returns an ``EncoderMetadata`` (facts with no field of their own go in its
``details``). A plain dict, as plugins returned before ``EncoderMetadata`` existed, is still
accepted and converted (``harness.encoder_metadata``).
"""

from __future__ import annotations

import inspect
from importlib.metadata import EntryPoint, entry_points

from harness.errors import ModelError

ENTRY_POINT_GROUP = "harness.models"
"""The entry-point group plugin packages register their adapters under."""

_loaded = False


def plugin_entry_points() -> list[EntryPoint]:
    """The installed ``harness.models`` entry points, sorted by name."""
    return sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda point: point.name)


def load_plugins() -> None:
    """Import every plugin once; a factory entry point is registered under the entry point's name."""
    global _loaded
    if _loaded:
        return
    from harness.models.base import is_registered, register_model

    for point in plugin_entry_points():
        try:
            target = point.load()
        except Exception as error:
            raise ModelError(
                f"model plugin '{point.name}' ({ENTRY_POINT_GROUP} = {point.value}) failed to load: "
                f"{type(error).__name__}: {error}"
            ) from None
        if inspect.ismodule(target) or is_registered(point.name):
            continue  # a module registers its adapters itself when imported
        if not callable(target):
            raise ModelError(f"model plugin '{point.name}' ({point.value}) is neither a module nor an encoder factory")
        summary = (inspect.getdoc(target) or "").strip().splitlines()
        register_model(point.name, description=f"plugin: {summary[0] if summary else point.value}")(target)
    _loaded = True
