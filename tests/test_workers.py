"""Preprocessing workers: batches come prepared in plan order, errors come back whole, the
embeddings are those of the in-process path bit for bit, and a killed run leaves no worker."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest
from conftest import TINY_MODEL_ARGS
from PIL import Image

from harness.cli import main
from harness.engine.encode import BatchOptions, encode_distinct
from harness.engine.encoding import DenseEncoding, Workers
from harness.errors import DataError, MediaError
from harness.inputs import IMAGE_MARKER, EncodeInput
from harness.media.image import image_pixel_budget, open_image
from harness.models import create_encoder
from harness.workers import default_num_workers, prepared_batches

GOLDEN = Path(__file__).parent / "data" / "golden"


class Doubling:
    """A picklable prepare: the indices, doubled, and the worker's pid."""

    def __call__(self, batch: Sequence[int]) -> tuple[list[int], int]:
        return [2 * i for i in batch], os.getpid()


class Failing:
    def __init__(self, error: Exception) -> None:
        self.error = error

    def __call__(self, batch: Sequence[int]) -> None:
        if 3 in batch:
            raise self.error


class OpensImage:
    def __init__(self, path: Path) -> None:
        self.path = path

    def __call__(self, batch: Sequence[int]) -> tuple[int, int]:
        return open_image(self.path).size


BATCHES = [[0, 1], [2, 3], [4], [5, 6, 7]]


@pytest.mark.parametrize("workers", [0, 1, 2])
def test_batches_come_prepared_in_plan_order(workers: int):
    prepared = list(prepared_batches(Doubling(), BATCHES, workers))
    assert [p.batch for p in prepared] == BATCHES
    assert [p.data[0] for p in prepared] == [[0, 2], [4, 6], [8], [10, 12, 14]]
    assert all(p.seconds >= 0 for p in prepared)
    pids = [p.data[1] for p in prepared]
    assert pids[0] == os.getpid()  # the first batch is prepared here while the workers start
    assert (set(pids[1:]) == {os.getpid()}) == (workers == 0)


def test_a_workers_error_of_ours_is_raised_whole():
    with pytest.raises(MediaError, match="cannot read image x.png") as caught:
        list(prepared_batches(Failing(MediaError("cannot read image x.png: truncated", "x.png")), BATCHES, 2))
    assert caught.value.path == "x.png"


def test_another_error_comes_back_whole_when_it_can():
    with pytest.raises(KeyError, match="'pixel_values'"):
        list(prepared_batches(Failing(KeyError("pixel_values")), BATCHES, 2))


class _ForeignUnpicklable(Exception):
    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.code = code


def test_a_foreign_error_that_cannot_cross_processes_names_its_type():
    with pytest.raises(RuntimeError, match="^_ForeignUnpicklable: broken$"):
        list(prepared_batches(Failing(_ForeignUnpicklable("broken", 1)), BATCHES, 2))


def test_workers_keep_the_pixel_budget_of_the_run(tmp_path: Path):
    path = tmp_path / "big.png"
    Image.new("RGB", (300, 300)).save(path)
    with image_pixel_budget(10_000), pytest.raises(MediaError, match="over the budget of 10,000"):
        list(prepared_batches(OpensImage(path), BATCHES, 2))
    assert [p.data for p in prepared_batches(OpensImage(path), BATCHES, 2)] == [(300, 300)] * 4


def test_negative_workers_are_refused():
    with pytest.raises(ValueError):
        list(prepared_batches(Doubling(), BATCHES, -1))


@pytest.mark.parametrize(
    ("device", "cores", "local", "expected"),
    [
        ("cpu", 2, 1, 1),
        ("cpu", 1, 1, 0),
        ("cpu", 64, 1, 1),
        ("cuda", 16, 1, 8),
        ("cuda", 16, 4, 3),
        ("cuda:1", 2, 2, 1),
    ],
)
def test_default_workers_follow_the_device_and_the_cores(device: str, cores: int, local: int, expected: int):
    assert default_num_workers(device, cores, local) == expected


# --- with the model ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def encoder():
    return create_encoder("vlm2vec", {"pretrained": str(GOLDEN / "tiny-qwen2vl"), "max_pixels": 50176}, "cpu")


def inputs_with_images(folder: Path, count: int) -> list[EncodeInput]:
    rng = np.random.default_rng(0)
    inputs = []
    for i in range(count):
        size = (int(rng.integers(30, 300)), int(rng.integers(30, 200)))
        path = folder / f"{i}.png"
        Image.fromarray(rng.integers(0, 255, (size[1], size[0], 3), dtype=np.uint8)).save(path)
        inputs.append(EncodeInput(f"{IMAGE_MARKER} Represent image {i}.", path))
    return inputs + [EncodeInput(f"caption number {i} " * (i % 5)) for i in range(count)]


def test_embeddings_with_workers_are_those_without_bit_for_bit(encoder, tmp_path: Path):
    inputs = inputs_with_images(tmp_path, 12)
    encoding = DenseEncoding(encoder)
    alone = encode_distinct(encoding, inputs, "query", BatchOptions(4, workers=Workers(0)))
    workers = encode_distinct(encoding, inputs, "query", BatchOptions(4, workers=Workers(2)))
    np.testing.assert_array_equal(alone, workers)  # the same batches, prepared elsewhere: the same bits


def test_another_batch_composition_moves_embeddings_by_rounding_only(encoder, tmp_path: Path):
    inputs = inputs_with_images(tmp_path, 12)
    encoding = DenseEncoding(encoder)
    alone = encode_distinct(encoding, inputs, "query", BatchOptions(4, workers=Workers(0)))
    capped = encode_distinct(encoding, inputs, "query", BatchOptions(16, max_batch_tokens=300, workers=Workers(1)))
    # Other padding lengths change the kernels' summation order: float32 rounding, not more.
    np.testing.assert_allclose(alone, capped, rtol=0, atol=1e-6)


def test_a_broken_image_in_a_worker_names_its_row(mmeb_basedir: Path, tmp_path: Path, capsys):
    image = mmeb_basedir / "image-tasks" / "synthetic" / "img04_64x27.png"  # an ImageNet-1K query
    image.write_bytes(b"not an image")
    status = main(
        ["run", "--model", "vlm2vec", "--model_args", f"pretrained={GOLDEN / 'tiny-qwen2vl'},{TINY_MODEL_ARGS}"]
        + ["--tasks", "ImageNet-1K", "--data_basedir", str(mmeb_basedir), "--output_path", str(tmp_path / "o")]
        + ["--device", "cpu", "--num_workers", "2", "--no_cache"]
    )
    err = capsys.readouterr().err
    assert status == 2
    assert "ImageNet-1K" in err and "test.jsonl:" in err and image.name in err and "Traceback" not in err


def test_a_run_with_workers_writes_the_files_of_a_run_without(mmeb_basedir: Path, tmp_path: Path):
    def run(out: Path, workers: str) -> dict[str, bytes]:
        argv = ["run", "--model", "vlm2vec", "--model_args", f"pretrained={GOLDEN / 'tiny-qwen2vl'},{TINY_MODEL_ARGS}"]
        argv += ["--tasks", "ImageNet-1K,VisDial", "--data_basedir", str(mmeb_basedir), "--output_path", str(out)]
        assert main([*argv, "--device", "cpu", "--no_cache", "--num_workers", workers, "--batch_size", "3"]) == 0
        return {p.name: p.read_bytes() for p in out.iterdir() if p.name.startswith(("ImageNet", "VisDial"))}

    zero, two = run(tmp_path / "zero", "0"), run(tmp_path / "two", "2")
    assert zero.keys() == two.keys()
    # Workers take cores from the model's threads on a CPU: float rounding moves, nothing more.
    for name in zero:
        if name.endswith("_pred.jsonl"):
            rankings = [[json.loads(line)["prediction"] for line in f[name].splitlines()] for f in (zero, two)]
            assert rankings[0] == rankings[1], name
        elif name.endswith("_score.json"):
            a, b = json.loads(zero[name]), json.loads(two[name])
            assert a.keys() == b.keys() and all(abs(a[k] - b[k]) < 1e-6 for k in a), name
    run_file = json.loads((tmp_path / "two" / "leaderboard.json").read_text())
    assert run_file["run"]["num_workers"] == 2
    seconds = run_file["tasks"]["ImageNet-1K"]["seconds"]
    assert seconds["preprocess"] > 0 and seconds["forward"] > 0
    encoding = run_file["tasks"]["ImageNet-1K"]["encoding"]["query"]
    assert encoding["exact_lengths"] and encoding["padded_tokens"] >= encoding["tokens"] > 0


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
    return found


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="reads the process table from /proc")
def test_workers_of_a_killed_run_exit(mmeb_basedir: Path, tmp_path: Path):
    argv = ["run", "--model", "vlm2vec", "--model_args", f"pretrained={GOLDEN / 'tiny-qwen2vl'},{TINY_MODEL_ARGS}"]
    argv += ["--tasks", "ImageNet-1K,VisDial,WebQA,CIRR", "--data_basedir", str(mmeb_basedir), "--device", "cpu"]
    argv += ["--output_path", str(tmp_path / "o"), "--num_workers", "2", "--batch_size", "1", "--no_cache"]
    script = "import sys; from harness.cli import main; sys.exit(main(sys.argv[1:]))"
    process = subprocess.Popen(
        [sys.executable, "-c", script, *argv], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.monotonic() + 120
    workers: list[int] = []
    while not workers and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
        # Forked workers run the parent's command line (another child, e.g. git, does not).
        workers = [c for c in _children(process.pid) if _cmdline(c) == _cmdline(process.pid)]
    assert workers, "no worker process was started"
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    deadline = time.monotonic() + 60  # a worker checks on its parent every 5 s while idle
    while _alive(workers) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not _alive(workers), [(w, _state(w)) for w in _alive(workers)]


def _alive(pids: list[int]) -> list[int]:
    return [p for p in pids if _state(p) not in ("Z", "X")]


def _cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return "X"  # gone


def test_num_workers_flag_refuses_a_negative_number(capsys):
    with pytest.raises(SystemExit):
        main(["run", "--num_workers", "-1"])
    assert "expected a number >= 0" in capsys.readouterr().err


def test_the_reference_flag_name_is_the_same_setting():
    from harness.cli.reference_compat import build_parser

    args = build_parser().parse_args(
        [
            "--model_name",
            "m",
            "--dataset_config",
            "c.yaml",
            "--encode_output_path",
            "o",
            "--dataloader_num_workers",
            "3",
        ]
    )
    assert args.num_workers == 3


def test_data_error_is_a_harness_error():  # what crosses the worker boundary whole
    assert issubclass(MediaError, DataError)


def test_a_forked_child_does_not_hold_the_output_folder(tmp_path: Path):
    from harness.results.output_folder import claim_output_folder

    folder = claim_output_folder(tmp_path / "out", {"model": "m"}, ["harness", "run"])
    ready, tell = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child (a worker, say): it must not keep the lock once the parent lets go
        os.write(tell, b"1")  # fork's child hooks have run by now
        time.sleep(3)
        os._exit(0)
    try:
        assert os.read(ready, 1) == b"1"
        folder.release()
        again = claim_output_folder(tmp_path / "out", {"model": "m"}, ["harness", "run"])  # at once, not after 3 s
        again.release()
    finally:
        os.waitpid(pid, 0)


class _Unpicklable(DataError):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        import threading

        self.lock = threading.Lock()  # cannot be pickled


class _TwoArguments(DataError):
    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.code = code


@pytest.mark.parametrize("error", [_Unpicklable("bad row 3"), _TwoArguments("bad row 3", 7)], ids=["lock", "init"])
def test_an_error_that_cannot_cross_processes_comes_back_with_its_message(error: Exception):
    with pytest.raises(DataError, match="^bad row 3$"):
        list(prepared_batches(Failing(error), BATCHES, 2))


def test_the_model_threads_are_capped_never_raised(monkeypatch: pytest.MonkeyPatch):
    import torch

    from harness.workers import cpu_main_threads

    assert cpu_main_threads(1, cpu_count=16, local_processes=2) == 7
    assert cpu_main_threads(4, cpu_count=2) == 1
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        seen = [torch.get_num_threads() for _ in prepared_batches(Doubling(), BATCHES, 1, main_threads=8)]
        assert seen == [1] * len(BATCHES)  # a lower count (the user's, torchrun's) stays
    finally:
        torch.set_num_threads(before)


def test_cores_are_counted_without_an_affinity_call(monkeypatch: pytest.MonkeyPatch):
    from harness import workers

    monkeypatch.delattr(os, "sched_getaffinity", raising=False)  # as on macOS
    assert workers.available_cores() == (os.cpu_count() or 1)
    assert workers.default_num_workers("mps") in (0, 1)


def test_a_failed_forward_gives_the_threads_back_and_stops_the_workers(encoder, tmp_path: Path):
    import torch

    class Broken:
        def __init__(self, inner):
            self.inner = inner

        def preparer(self):
            return self.inner.preparer()

        def encode_prepared(self, prepared):
            raise MemoryError("out of memory")

        def encode(self, inputs, side):  # pragma: no cover - the staged path is taken
            raise AssertionError

        def metadata(self):
            return self.inner.metadata()

    before = torch.get_num_threads()
    inputs = inputs_with_images(tmp_path, 6)
    with pytest.raises(MemoryError) as caught:
        encode_distinct(
            DenseEncoding(Broken(encoder)), inputs, "query", BatchOptions(2, workers=Workers(1, main_threads=1))
        )
    assert torch.get_num_threads() == before  # while the exception (and its traceback) is still held
    del caught


BLOCKED_WORKER = """
import sys, time
from pathlib import Path
from harness.workers import prepared_batches

class Sleeps:
    def __init__(self, marker):
        self.marker = marker

    def __call__(self, batch):
        if batch[0] > 0:  # a worker (batch 0 is prepared in the parent)
            Path(self.marker).write_text(str(__import__("os").getpid()))
            time.sleep(120)  # busy: the DataLoader's own parent check never runs
        return batch

for prepared in prepared_batches(Sleeps(sys.argv[1]), [[0], [1], [2]], 1):
    time.sleep(120)
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the kernel's parent-death signal is Linux's")
def test_a_busy_worker_dies_with_its_killed_parent(tmp_path: Path):
    marker = tmp_path / "worker.pid"
    process = subprocess.Popen([sys.executable, "-c", BLOCKED_WORKER, str(marker)])
    deadline = time.monotonic() + 60
    while not marker.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    worker = int(marker.read_text())
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    deadline = time.monotonic() + 10  # far less than the worker's 120 s of work
    while _alive([worker]) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _alive([worker])
