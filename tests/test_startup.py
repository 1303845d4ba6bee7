"""Start-up: a run on local files imports neither `datasets` nor `pandas` (seconds of every run's
wall); they load only for a task read from the hub."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from conftest import TINY_MODEL_ARGS

GOLDEN = Path(__file__).parent / "data" / "golden"
SCRIPT = (
    "import sys; from harness.cli import main; status = main(sys.argv[1:]); "
    "print('heavy', sorted(m for m in ('datasets', 'pandas', 'pyarrow') if m in sys.modules)); sys.exit(status)"
)


def test_a_run_on_local_files_imports_no_dataset_library(mmeb_basedir: Path, tmp_path: Path):
    argv = ["run", "--model", "vlm2vec", "--model_args", f"pretrained={GOLDEN / 'tiny-qwen2vl'},{TINY_MODEL_ARGS}"]
    argv += ["--tasks", "ImageNet-1K", "--data_basedir", str(mmeb_basedir), "--output_path", str(tmp_path / "o")]
    argv += ["--device", "cpu", "--no_cache"]
    done = subprocess.run([sys.executable, "-c", SCRIPT, *argv], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "heavy []"
