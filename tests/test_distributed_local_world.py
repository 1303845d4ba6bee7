"""A run in one process is a ``LocalWorld``: rank 0 of 1, whose exchanges return at once.

The engine takes a ``World`` and has no single-process branch, so ``LocalWorld`` must behave as
a single process always did: its own errors raised unchanged (never a ``DistributedError``),
its own embeddings handed straight back, and no torch import.
"""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from harness.distributed import SINGLE_PROCESS, LocalWorld, World
from harness.errors import DataError


def test_a_local_world_is_rank_0_of_1_and_the_main_process():
    world: World = LocalWorld()

    assert (world.rank, world.world_size, world.is_main) == (0, 1, True)


def test_check_raises_this_processs_own_error_unchanged():
    error = DataError("task 'T', rows.jsonl:3: media file not found: a.png")

    with pytest.raises(DataError) as caught:
        SINGLE_PROCESS.check("encoding the query inputs of task 'T'", error)

    assert caught.value is error


def test_check_without_an_error_returns():
    SINGLE_PROCESS.check("encoding", None)


def test_gather_to_main_yields_the_local_arrays_under_their_global_indices_in_order():
    arrays = [np.full(2, value, dtype=np.float32) for value in (10.0, 20.0, 30.0)]

    gathered = list(SINGLE_PROCESS.gather_to_main([2, 0, 1], arrays.__getitem__, [8, 8, 8]))

    assert [index for index, _ in gathered] == [2, 0, 1]
    assert [array.tolist() for _, array in gathered] == [[10.0, 10.0], [20.0, 20.0], [30.0, 30.0]]


def test_barrier_returns_at_once():
    SINGLE_PROCESS.barrier("the run")


def test_a_local_world_needs_no_torch():
    script = (
        "import sys\n"
        "from harness.distributed import SINGLE_PROCESS\n"
        "SINGLE_PROCESS.check('s', None); SINGLE_PROCESS.barrier()\n"
        "list(SINGLE_PROCESS.gather_to_main([0], lambda i: i, [1]))\n"
        "print('torch' in sys.modules)\n"
    )

    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)

    assert result.stdout.strip() == "False"
