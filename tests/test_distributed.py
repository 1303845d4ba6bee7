"""Distributed runs: two gloo ranks on CPU (torchrun) give the single-process run's files.

The end-to-end tests start ``python -m torch.distributed.run --nproc_per_node 2`` on the
bundled demo; the shard plan and the gather are also tested on their own.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from harness.cli import main
from harness.demo import demo_paths
from harness.distributed import _split_by_bytes, assign_batches, torchrun_command
from harness.results.files import read_embeddings

DEMO_TASKS = ("demo_shape_color_cls", "demo_text_to_image", "demo_image_to_text_global")
LIMIT = "16"
TORCHRUN_TIMEOUT_S = 240


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def torchrun(args: list[str], cwd: Path) -> tuple[subprocess.CompletedProcess[str], float]:
    command = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--nproc_per_node",
        "2",
        "--master_port",
        str(free_port()),
        "-m",
        "harness",
        *args,
    ]
    start = time.monotonic()
    # faulthandler: should a rank ever abort again, its Python stack is in the failure message.
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONFAULTHANDLER": "1"}
    result = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=TORCHRUN_TIMEOUT_S)
    return result, time.monotonic() - start


@pytest.fixture(scope="module")
def single_process_dir(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("single") / "out"
    assert main(["run", "--limit", LIMIT, "--output_path", str(out)]) == 0
    return out


@pytest.fixture(scope="module")
def two_process_dir(tmp_path_factory) -> Path:
    workdir = tmp_path_factory.mktemp("two")
    result, _ = torchrun(["run", "--limit", LIMIT, "--output_path", "out"], workdir)
    assert result.returncode == 0, result.stderr[-3000:]
    return workdir / "out"


def test_two_ranks_save_the_single_process_embeddings(single_process_dir, two_process_dir):
    for task in DEMO_TASKS:
        for side in ("qry", "tgt"):
            single, single_ids = read_embeddings(single_process_dir / f"{task}_{side}")
            double, double_ids = read_embeddings(two_process_dir / f"{task}_{side}")
            assert double_ids == single_ids
            np.testing.assert_allclose(double, single, rtol=0, atol=1e-6)


def test_two_ranks_give_the_single_process_scores_and_rankings(single_process_dir, two_process_dir):
    for task in DEMO_TASKS:
        single = json.loads((single_process_dir / f"{task}_score.json").read_text())
        assert json.loads((two_process_dir / f"{task}_score.json").read_text()) == single
        single_lines = (single_process_dir / f"{task}_pred.jsonl").read_text().splitlines()
        double_lines = (two_process_dir / f"{task}_pred.jsonl").read_text().splitlines()
        assert [json.loads(line)["prediction"] for line in double_lines] == [
            json.loads(line)["prediction"] for line in single_lines
        ]
    entry = json.loads((two_process_dir / "leaderboard.json").read_text())
    assert set(entry["tasks"]) == set(DEMO_TASKS)


def test_a_failing_rank_stops_every_rank_with_a_message_naming_it(tmp_path):
    data = tmp_path / "data"
    shutil.copytree(demo_paths().data_basedir, data)
    first = json.loads((data / "demo" / "demo_text_to_image.jsonl").read_text().splitlines()[0])
    broken = next(data.rglob(Path(first["tgt_img_path"][0]).name))
    broken.write_bytes(b"not an image")
    result, elapsed = torchrun(
        [
            "run",
            "--model",
            "vlm2vec",
            "--model_args",
            f"pretrained={demo_paths().checkpoint},max_pixels=50176",
            "--tasks",
            "demo_text_to_image",
            "--data_basedir",
            str(data),
            "--output_path",
            "out",
            "--limit",
            "8",
        ],
        tmp_path,
    )
    assert result.returncode != 0
    assert elapsed < TORCHRUN_TIMEOUT_S
    assert "failed while encoding the candidate inputs of task 'demo_text_to_image'" in result.stderr
    assert broken.name in result.stderr
    assert any(f"error: rank {rank} failed" in result.stderr for rank in (0, 1))
    assert not (tmp_path / "out" / "demo_text_to_image_score.json").exists()


# --- the shard plan ----------------------------------------------------------------------------


def test_batches_are_dealt_whole_once_each_to_the_least_loaded_rank():
    costs = [10.0, 1.0, 1.0, 1.0, 7.0, 2.0]
    shares = assign_batches(costs, 2)
    assert sorted(b for share in shares for b in share) == list(range(6))
    loads = [sum(costs[b] for b in share) for share in shares]
    assert max(loads) - min(loads) <= max(costs)
    assert shares == [[0, 2], [1, 3, 4, 5]]  # loads 11 and 11


def test_more_ranks_than_batches_leave_some_ranks_idle_rather_than_duplicating_rows():
    shares = assign_batches([3.0, 2.0], 4)
    assert shares == [[0], [1], [], []]


def test_gather_rounds_are_bounded_by_bytes_but_never_empty():
    assert _split_by_bytes([4, 4, 4, 10, 1], 8) == [range(0, 2), range(2, 3), range(3, 4), range(4, 5)]
    assert _split_by_bytes([], 8) == []


def test_torchrun_command_runs_a_module_as_local_ranks():
    command = torchrun_command(3, "harness", ["run"])
    assert command[0] == sys.executable
    assert command[1:] == ["-m", "torch.distributed.run", "--standalone", "--nproc_per_node=3", "-m", "harness", "run"]


def test_two_ranks_share_the_embedding_cache_and_a_recompute_encodes_nothing(tmp_path):
    cache = tmp_path / "cache"
    first, _ = torchrun(["run", "--limit", "8", "--output_path", "out", "--cache_dir", str(cache)], tmp_path)
    assert first.returncode == 0, first.stderr[-3000:]
    cold = json.loads((tmp_path / "out" / "leaderboard.json").read_text())

    again, _ = torchrun(
        ["run", "--limit", "8", "--output_path", "out", "--cache_dir", str(cache), "--overwrite"], tmp_path
    )

    assert again.returncode == 0, again.stderr[-3000:]
    warm = json.loads((tmp_path / "out" / "leaderboard.json").read_text())
    for task, score in warm["tasks"].items():
        assert all(side["forward_rows"] == 0 for side in score["encoding"].values())  # summed over both ranks
        assert sum(side["cache_hits"] for side in score["encoding"].values()) == sum(
            side["forward_rows"] for side in cold["tasks"][task]["encoding"].values()
        )
        assert score["metrics"] == cold["tasks"][task]["metrics"]
