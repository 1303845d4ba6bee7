"""Third-party adapters install as packages with a ``harness.models`` entry point and run like built-ins.

The tiny plugin in tests/data/plugin_pkg is pip-installed (no dependencies, no build isolation)
into a temporary folder that only the child processes see on their path.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

PLUGIN_SOURCE = Path(__file__).parent / "data" / "plugin_pkg"


@pytest.fixture(scope="module")
def plugin_path(tmp_path_factory):
    """A folder with the plugin installed in it; removed afterwards."""
    root = tmp_path_factory.mktemp("plugin")
    source = root / "src"
    shutil.copytree(PLUGIN_SOURCE, source)  # the build writes into its source folder: keep tests/data clean
    target = root / "site"
    command = [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation"]
    subprocess.run([*command, "--target", str(target), str(source)], check=True, capture_output=True, text=True)
    yield target
    shutil.rmtree(root, ignore_errors=True)


def run_harness(plugin_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(plugin_path), os.environ.get("PYTHONPATH", "")])}
    return subprocess.run(
        [sys.executable, "-m", "harness", *args], capture_output=True, text=True, env=env, timeout=300
    )


def test_installed_plugins_are_listed_by_harness_models(plugin_path):
    listed = run_harness(plugin_path, "models")

    assert listed.returncode == 0, listed.stderr
    assert "tiny_chars " in listed.stdout and "plugin: Letter-count embeddings (test plugin)." in listed.stdout
    assert "tiny_chars_module" in listed.stdout


@pytest.fixture(scope="module")
def demo_run(plugin_path, tmp_path_factory):
    """``demo_run(name)``: the plugin adapter ``name`` run on one demo task (once per module), and its output folder."""
    from harness.demo import demo_paths

    runs: dict[str, tuple[subprocess.CompletedProcess[str], Path]] = {}

    def run(name: str) -> tuple[subprocess.CompletedProcess[str], Path]:
        if name not in runs:
            out = tmp_path_factory.mktemp(name) / "out"
            basedir = str(demo_paths().data_basedir)
            arguments = ["--model", name, "--tasks", "demo_shape_color_cls", "--data_basedir", basedir]
            runs[name] = run_harness(plugin_path, "run", *arguments, "--output_path", str(out)), out
        return runs[name]

    return run


@pytest.mark.parametrize("name", ["tiny_chars", "tiny_chars_module"])
def test_a_plugin_adapter_runs_a_demo_task(demo_run, name):
    ran, out = demo_run(name)

    assert ran.returncode == 0, ran.stderr
    entry = json.loads((out / "leaderboard.json").read_text())
    assert entry["model"]["name"] == name
    assert entry["model"]["adapter_metadata"]["adapter"] == "tiny_chars"


def test_a_plugins_metadata_record_is_written_as_it_reports_it(demo_run):
    ran, out = demo_run("tiny_chars")

    assert ran.returncode == 0, ran.stderr
    recorded = json.loads((out / "leaderboard.json").read_text())["model"]["adapter_metadata"]
    assert recorded == {
        "format_version": 1,
        "adapter": "tiny_chars",
        "num_parameters": 0,
        "embedding_dim": 26,
        "dtype": "float32",
    }


def test_a_plugins_metadata_dict_is_recorded_typed_with_its_own_keys_under_details(demo_run):
    ran, out = demo_run("tiny_chars_module")

    assert ran.returncode == 0, ran.stderr
    recorded = json.loads((out / "leaderboard.json").read_text())["model"]["adapter_metadata"]
    assert recorded == {
        "format_version": 1,
        "adapter": "tiny_chars",
        "num_parameters": 0,
        "embedding_dim": 26,
        "details": {"alphabet": "a-z"},
    }


def test_plugins_are_not_visible_without_the_package(plugin_path):
    listed = run_harness(Path(os.devnull), "models")

    assert listed.returncode == 0 and "tiny_chars" not in listed.stdout
