"""``harness.inputs`` is the record contract between the data layer and the model adapters.

It owns the records and the media markers; the task layer shows the markers to templates and
re-exports them, and the adapters never reach back into the task layer for them.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import harness.inputs
import harness.taskspec
from harness.inputs import IMAGE_MARKER, VIDEO_MARKER
from harness.taskspec import render

MODELS_PACKAGE = Path(harness.__file__).parent / "models"


def imported_modules(path: Path) -> set[str]:
    """Every module ``path`` imports (``import a.b``, ``from a.b import c``, relative imports resolved)."""
    package = ".".join(path.relative_to(MODELS_PACKAGE.parent.parent).with_suffix("").parts)
    if path.name != "__init__.py":
        package = package.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package.rsplit(".", node.level - 1)[0] if node.level else ""
            module = ".".join(part for part in (base, node.module or "") if part)
            found.add(module)
            found.update(f"{module}.{alias.name}" for alias in node.names)
    return found


MODEL_MODULES = sorted(MODELS_PACKAGE.rglob("*.py"))


def test_the_import_scan_sees_the_model_modules():
    assert len(MODEL_MODULES) > 10
    assert "harness.inputs.IMAGE_MARKER" in imported_modules(MODELS_PACKAGE / "dual_encoder.py")


@pytest.mark.parametrize("path", MODEL_MODULES, ids=lambda p: str(p.relative_to(MODELS_PACKAGE)))
def test_no_model_module_imports_the_task_layer(path):
    reaching_back = sorted(
        m for m in imported_modules(path) if m == "harness.taskspec" or m.startswith("harness.taskspec.")
    )

    assert reaching_back == []


def test_the_task_layer_re_exports_the_markers_of_the_contract():
    assert harness.taskspec.IMAGE_MARKER is IMAGE_MARKER
    assert harness.taskspec.VIDEO_MARKER is VIDEO_MARKER


def test_templates_write_the_contracts_markers_for_image_and_video():
    assert render("{{ IMAGE }} and {{ VIDEO }}", {}) == f"{IMAGE_MARKER} and {VIDEO_MARKER}"


def test_templates_write_the_contracts_marker_for_audio():
    assert render("{{ AUDIO }}", {}) == harness.inputs.AUDIO_MARKER


def test_the_contract_exports_its_records_sides_and_markers():
    expected = {"EncodeInput", "ImageData", "ImageSlot", "VideoRef", "AudioRef", "AudioData", "Side"}
    expected |= {"IMAGE_MARKER", "VIDEO_MARKER", "AUDIO_MARKER"}

    assert set(harness.inputs.__all__) == expected
    assert all(hasattr(harness.inputs, name) for name in expected)
