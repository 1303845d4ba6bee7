"""A rank that never reaches an exchange is named, with the stage it did not finish, in one line.

The end-to-end test runs two gloo ranks on CPU under torchrun with a test-only adapter whose
``encode`` hangs on rank 1 (registered by a small script that then runs the real command line);
the messages themselves are also tested on a ``ProcessGroupWorld`` with an in-memory store.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from test_distributed import TORCHRUN_TIMEOUT_S, free_port

from harness.demo import demo_paths
from harness.distributed import DistributedError, ProcessGroupWorld

STALLING_HARNESS = '''\
"""``harness`` with one more adapter, ``stalls_on_rank_1``: constant embeddings, but on rank 1 encode hangs."""
import os
import sys
import time

import numpy as np

from harness.cli import main
from harness.models import register_model


class StallsOnRankOne:
    def encode(self, inputs, side):
        if os.environ["RANK"] == "1":
            time.sleep(300)  # longer than the test waits; torchrun stops this rank once rank 0 has failed
        return np.ones((len(inputs), 4), dtype=np.float32)

    def metadata(self):
        return {"adapter": "stalls_on_rank_1"}


register_model("stalls_on_rank_1")(lambda model_args, device: StallsOnRankOne())
sys.exit(main(sys.argv[1:]))
'''


class MemoryStore:
    """The two calls ``ProcessGroupWorld`` makes on a torch.distributed store, in memory."""

    def __init__(self) -> None:
        self.keys: dict[str, str] = {}

    def set(self, key: str, value: str) -> None:
        self.keys[key] = value

    def check(self, keys: list[str]) -> bool:
        return all(key in self.keys for key in keys)


def world_of(rank: int, world_size: int, store: MemoryStore) -> ProcessGroupWorld:
    return ProcessGroupWorld(
        rank=rank, world_size=world_size, local_rank=rank, group=None, timeout_minutes=1.5, arrivals=store
    )


def test_a_stalled_rank_is_named_by_the_rank_that_waited_for_it(tmp_path):
    script = tmp_path / "stalling_harness.py"
    script.write_text(STALLING_HARNESS)
    command = [
        sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port", str(free_port()),
        str(script), "run", "--model", "stalls_on_rank_1", "--tasks", "demo_text_to_image",
        "--data_basedir", str(demo_paths().data_basedir), "--limit", "4", "--batch_size", "1",
        "--dist_timeout", "0.1", "--output_path", str(tmp_path / "out"),
    ]  # fmt: skip
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}

    result = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=TORCHRUN_TIMEOUT_S)

    assert result.returncode != 0
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert errors == [
        "error: rank 0 waited 0.1 minutes (--dist_timeout) for rank 1 to finish encoding the query inputs of "
        "task 'demo_text_to_image'; stopping"
    ], result.stderr[-3000:]
    assert "[rank0]: Traceback" not in result.stderr  # torch prefixes a rank's uncaught traceback so


def test_a_timeout_names_every_rank_that_did_not_arrive():
    store = MemoryStore()
    waiting = world_of(0, 4, store)
    store.set("0/2", "encoding")  # rank 2 arrived at exchange 0; ranks 1 and 3 did not

    with pytest.raises(DistributedError) as error, waiting.exchange("encoding the query inputs of task 'T'"):
        raise RuntimeError("[gloo/transport/tcp/unbound_buffer.cc:81] Timed out waiting 90000ms for recv operation")

    assert str(error.value) == (
        "rank 0 waited 1.5 minutes (--dist_timeout) for ranks 1, 3 to finish encoding the query inputs of task 'T'; "
        "stopping"
    )


def test_a_lost_connection_is_one_line_naming_the_stage_and_the_cause():
    store = MemoryStore()
    waiting = world_of(1, 2, store)

    with pytest.raises(DistributedError) as error, waiting.exchange("the run"):
        raise RuntimeError("[gloo/transport/tcp/pair.cc:561] Connection closed by peer [127.0.0.1]:49282.\nmore")

    assert str(error.value) == (
        "rank 1 lost the other ranks after the run (rank 0 never arrived): "
        "[gloo/transport/tcp/pair.cc:561] Connection closed by peer [127.0.0.1]:49282."
    )


def test_a_rank_that_failed_itself_reports_its_own_error_first(monkeypatch):
    import torch.distributed as dist

    def timed_out(*args: object, **kwargs: object) -> None:
        raise RuntimeError("Timed out waiting 90000ms for send operation to complete")

    monkeypatch.setattr(dist, "all_gather_object", timed_out)
    world = world_of(0, 2, MemoryStore())

    with pytest.raises(DistributedError) as error:
        world.check("encoding the candidate inputs of task 'T'", ValueError("bad image"))

    assert str(error.value) == (
        "rank 0 failed while encoding the candidate inputs of task 'T': ValueError: bad image; and rank 0 waited "
        "1.5 minutes (--dist_timeout) for rank 1 to finish encoding the candidate inputs of task 'T'; stopping"
    )


def test_exchanges_are_numbered_alike_on_every_rank_so_marks_of_earlier_ones_do_not_count():
    store = MemoryStore()
    ahead, behind = world_of(0, 2, store), world_of(1, 2, store)
    with behind.exchange("first"), ahead.exchange("first"):
        pass

    with pytest.raises(DistributedError, match="for rank 1 to finish second"), ahead.exchange("second"):
        raise RuntimeError("Timed out")
