"""The installed package carries its task files and demo, and lists every subpackage."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import tomllib

ROOT = Path(__file__).resolve().parent.parent


def test_every_harness_subpackage_is_listed_in_pyproject():
    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    on_disk = {".".join(path.parent.relative_to(ROOT).parts) for path in (ROOT / "harness").rglob("__init__.py")}
    assert on_disk <= listed, f"add to [tool.setuptools] packages: {sorted(on_disk - listed)}"


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(out), str(ROOT)],
        check=True,
        capture_output=True,
    )
    return next(out.glob("*.whl"))


def test_wheel_contains_every_builtin_task_file(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    for path in (ROOT / "tasks").rglob("*.yaml"):
        assert f"harness/builtin_tasks/{path.relative_to(ROOT / 'tasks').as_posix()}" in names


def test_wheel_contains_the_demo_checkpoint_and_data(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    demo = ROOT / "harness" / "demo"
    for path in [*(demo / "checkpoint").glob("*"), *(demo / "data").rglob("*.*")]:
        assert path.relative_to(ROOT).as_posix() in names, path


def test_console_script_and_module_entry_point_are_declared(wheel):
    archive = zipfile.ZipFile(wheel)
    entry_points = next(n for n in archive.namelist() if n.endswith("entry_points.txt"))
    assert "harness = harness.cli:main" in archive.read(entry_points).decode()
    assert "harness/__main__.py" in archive.namelist()


def test_the_version_module_and_pyproject_name_the_same_version():
    import tomllib

    from harness.version import VERSION

    project = tomllib.loads((Path(__file__).parent.parent / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert project["version"] == VERSION
