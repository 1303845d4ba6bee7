"""Never compute an embedding twice: a rerun keeps finished tasks, the embedding cache serves every
vector it has, a changed prompt, pixel bound or checkpoint never gets a stale one, and a run
killed at any point is finished by its rerun with the results of an uninterrupted run."""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import TINY_MODEL_ARGS, write_task

from harness.cli import main

TASKS = "ImageNet-1K,VisDial"


@pytest.fixture
def run_cli(mmeb_basedir: Path, tiny_checkpoint: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    """Run ``harness run`` on the golden rows with the tiny model; return (status, stderr, run file)."""

    def run(
        *extra: str,
        out: Path | None = None,
        tasks: str = TASKS,
        model_args: str = TINY_MODEL_ARGS,
        checkpoint: Path = tiny_checkpoint,
    ):
        folder = out or tmp_path / "out"
        argv = ["run", "--model", "vlm2vec", "--model_args", f"pretrained={checkpoint},{model_args}"]
        argv += ["--tasks", tasks, "--data_basedir", str(mmeb_basedir), "--output_path", str(folder), "--device", "cpu"]
        argv += ["--include_path", str(tmp_path / "tasks")] if (tmp_path / "tasks").is_dir() else []
        status = main([*argv, *extra])
        err = capsys.readouterr().err
        run_file = json.loads((folder / "leaderboard.json").read_text()) if status == 0 else None
        return status, err, run_file

    return run


def forward_rows(run_file: dict) -> dict[str, int]:
    return {
        task: sum(side["forward_rows"] for side in score["encoding"].values())
        for task, score in run_file["tasks"].items()
    }


def hits(run_file: dict) -> dict[str, int]:
    return {
        task: sum(side["cache_hits"] for side in score["encoding"].values())
        for task, score in run_file["tasks"].items()
    }


def task_files(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.name.startswith(("ImageNet", "VisDial"))}


def test_a_rerun_keeps_every_finished_task_and_encodes_nothing(run_cli, tmp_path: Path):
    status, _, cold = run_cli()
    assert status == 0 and all(rows > 0 for rows in forward_rows(cold).values())
    before = task_files(tmp_path / "out")

    status, err, warm = run_cli()

    assert status == 0
    assert err.count("finished earlier, kept") == 2
    assert task_files(tmp_path / "out") == before
    assert warm["overall"] == cold["overall"]
    for name, score in warm["tasks"].items():
        assert score["kept_from"] == cold["run"]["run_id"] and score["encoding"] == {}  # nothing encoded now
        assert score["seconds"] is None and cold["tasks"][name]["seconds"]["forward"] > 0
        assert {k: v for k, v in score.items() if k not in ("kept_from", "encoding", "seconds")} == {
            k: v for k, v in cold["tasks"][name].items() if k not in ("kept_from", "encoding", "seconds")
        }


def test_recomputed_tasks_take_every_embedding_from_the_cache_and_write_the_same_files(run_cli, tmp_path: Path):
    run_cli()
    before = task_files(tmp_path / "out")

    status, err, warm = run_cli("--overwrite", "--batch_size", "3")  # recompute; another batch size

    assert status == 0 and "distinct inputs from the cache" in err
    assert set(forward_rows(warm).values()) == {0}
    assert all(count > 0 for count in hits(warm).values())
    assert task_files(tmp_path / "out") == before  # embeddings, rankings and scores byte for byte


def test_the_same_inputs_in_another_folder_come_from_the_cache(run_cli, tmp_path: Path):
    run_cli(tasks="ImageNet-1K")

    status, _, other = run_cli(out=tmp_path / "elsewhere", tasks="ImageNet-1K")

    assert status == 0 and forward_rows(other) == {"ImageNet-1K": 0}


def test_a_changed_prompt_misses_the_cache_and_recomputes_only_that_task(run_cli, tmp_path: Path):
    write_task(tmp_path / "tasks", "mine")
    run_cli(tasks="mine,VisDial")
    before = {p.name: p.read_bytes() for p in (tmp_path / "out").glob("mine_*")}
    changed = {"query": {"template": "{{ IMAGE }} Another instruction: {{ qry_text }}\n"}}
    write_task(tmp_path / "tasks", "mine", **changed)

    status, err, rerun = run_cli(tasks="mine,VisDial")

    assert status == 0
    assert err.count("finished earlier, kept") == 1  # VisDial
    assert rerun["tasks"]["mine"]["kept_from"] is None and rerun["tasks"]["VisDial"]["kept_from"]
    after = {p.name: p.read_bytes() for p in (tmp_path / "out").glob("mine_*")}
    assert after.keys() == before.keys() and after["mine_qry"] != before["mine_qry"]  # written anew
    encoding = rerun["tasks"]["mine"]["encoding"]
    assert encoding["query"]["cache_hits"] == 0 and encoding["query"]["forward_rows"] > 0
    assert encoding["candidate"]["forward_rows"] == 0  # the candidates did not change


def test_the_same_inputs_in_two_tasks_of_one_run_are_encoded_once(run_cli, tmp_path: Path):
    write_task(tmp_path / "tasks", "first")
    write_task(tmp_path / "tasks", "second")  # the same rows and templates under another name

    status, _, run_file = run_cli(tasks="first,second")

    assert status == 0
    assert forward_rows(run_file)["first"] > 0 and forward_rows(run_file)["second"] == 0
    assert run_file["tasks"]["second"]["main_score"] == run_file["tasks"]["first"]["main_score"]


def test_the_leaderboard_entry_is_rebuilt_from_the_kept_tasks(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    out = tmp_path / "demo"  # the demo is a complete benchmark group, so its run makes an entry
    assert main(["run", "--output_path", str(out), "--device", "cpu"]) == 0
    entry = out / "leaderboard_entry.json"
    cold = json.loads(entry.read_text())
    entry.unlink()
    capsys.readouterr()

    assert main(["run", "--output_path", str(out), "--device", "cpu"]) == 0

    assert capsys.readouterr().err.count("finished earlier, kept") == 3
    warm = json.loads(entry.read_text())
    assert warm["scores"] == cold["scores"] and warm["aggregates"] == cold["aggregates"]
    assert sum(len(tasks) for tasks in warm["scores"].values()) == 3


def test_a_changed_pixel_bound_is_another_encoder_and_never_hits(run_cli, tmp_path: Path):
    run_cli(tasks="ImageNet-1K")

    status, _, other = run_cli(out=tmp_path / "other", tasks="ImageNet-1K", model_args="max_pixels=40000")

    assert status == 0 and hits(other) == {"ImageNet-1K": 0}


def test_a_checkpoint_changed_in_place_is_another_encoder(run_cli, tmp_path: Path, tiny_checkpoint: Path):
    import torch
    from safetensors.torch import load_file, save_file

    copy = tmp_path / "ckpt"
    shutil.copytree(tiny_checkpoint, copy)
    run_cli(tasks="ImageNet-1K", checkpoint=copy)
    weights = load_file(copy / "model.safetensors")
    save_file({k: v + 0.01 if v.dtype == torch.float32 else v for k, v in weights.items()}, copy / "model.safetensors")

    status, _, changed = run_cli(out=tmp_path / "changed", tasks="ImageNet-1K", checkpoint=copy)

    assert status == 0 and hits(changed) == {"ImageNet-1K": 0}


def test_no_cache_neither_reads_nor_writes(run_cli, tmp_path: Path, isolated_embedding_cache: Path):
    status, _, run_file = run_cli("--no_cache", tasks="ImageNet-1K")

    assert status == 0 and hits(run_file) == {"ImageNet-1K": 0}
    assert not any(isolated_embedding_cache.iterdir())


# --- killed at a random point ---------------------------------------------------------------------

KILL_SCRIPT = "import sys; from harness.cli import main; sys.exit(main(sys.argv[1:]))"


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_a_run_killed_at_a_random_point_is_finished_by_its_rerun_with_the_same_results(
    seed: int, tmp_path: Path, mmeb_basedir: Path, tiny_checkpoint: Path
):
    argv = ["run", "--model", "vlm2vec", "--model_args", f"pretrained={tiny_checkpoint},{TINY_MODEL_ARGS}"]
    argv += ["--tasks", "ImageNet-1K,VisDial,WebQA,CIRR", "--data_basedir", str(mmeb_basedir), "--device", "cpu"]
    argv += ["--batch_size", "2"]
    clean = tmp_path / "clean"
    assert (
        subprocess.run(
            [sys.executable, "-c", KILL_SCRIPT, *argv, "--output_path", str(clean), "--no_cache"],
            capture_output=True,
            check=False,
        ).returncode
        == 0
    )

    killed = tmp_path / "killed"
    process = subprocess.Popen(
        [sys.executable, "-c", KILL_SCRIPT, *argv, "--output_path", str(killed)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    time.sleep(random.Random(seed).uniform(3.0, 9.0))
    if process.poll() is None:
        os.kill(process.pid, signal.SIGKILL)
    process.wait()

    rerun = subprocess.run(
        [sys.executable, "-c", KILL_SCRIPT, *argv, "--output_path", str(killed)],
        capture_output=True,
        text=True,
        check=False,
    )

    assert rerun.returncode == 0, rerun.stderr
    for path in (
        sorted(clean.glob("*_score.json")) + sorted(clean.glob("*_pred.jsonl")) + sorted(clean.glob("*_info.jsonl"))
    ):
        assert (killed / path.name).read_bytes() == path.read_bytes(), path.name
    for path in sorted(clean.glob("*_qry")) + sorted(clean.glob("*_tgt")):
        assert (killed / path.name).read_bytes() == path.read_bytes(), path.name


# --- a rerun of finished work does not load the model -------------------------------------------


def test_a_rerun_of_finished_work_does_not_even_load_the_model(run_cli, monkeypatch: pytest.MonkeyPatch):
    import harness.api

    assert run_cli()[0] == 0

    def no_model(*args: object, **kwargs: object) -> None:
        raise AssertionError("the model was loaded")

    monkeypatch.setattr(harness.api, "create_encoder", no_model)
    status, err, warm = run_cli()

    assert status == 0, err
    assert err.count("finished earlier, kept") == 2
    assert warm["model"]["adapter_metadata"]["adapter"] == "vlm2vec"  # the earlier run's model facts


def test_weights_changed_in_place_make_the_rerun_load_the_model_and_recompute(
    run_cli, tmp_path: Path, tiny_checkpoint: Path
):
    import torch
    from safetensors.torch import load_file, save_file

    copy = tmp_path / "ckpt"
    shutil.copytree(tiny_checkpoint, copy)
    assert run_cli(tasks="ImageNet-1K", checkpoint=copy)[0] == 0
    weights = load_file(copy / "model.safetensors")
    save_file({k: v * 1.5 if v.dtype == torch.float32 else v for k, v in weights.items()}, copy / "model.safetensors")

    status, err, rerun = run_cli(tasks="ImageNet-1K", checkpoint=copy)

    assert status == 0 and "finished earlier, kept" not in err
    assert hits(rerun) == {"ImageNet-1K": 0} and forward_rows(rerun)["ImageNet-1K"] > 0
