"""Data-parallel evaluation on ``torchrun``: one process per device, rank 0 scores and writes.

Every rank loads the tasks and the model, encodes its own share of each task's unique inputs,
and sends the embeddings to rank 0, which ranks, scores and writes every file. Shares are whole
batches of the size-sorted batch plan, dealt out by estimated cost (longest first, to the least
loaded rank), so no rank encodes a duplicate row and every batch is the one a single process
would encode: the embeddings equal a single-process run's.

The engine sees the processes as a ``World``: ``ProcessGroupWorld`` under torchrun, and
``LocalWorld`` otherwise (one process whose share is every batch and whose exchanges return at
once), so single-process and distributed runs take the same code path.

Failures: before each gather the ranks exchange their status, so an error on one rank stops all
of them with a message naming that rank; a rank that dies outright is caught by torchrun, which
stops the others; a rank that hangs is caught by the process-group timeout (``--dist_timeout``):
each rank marks its arrival at every exchange in the process group's store, so the ranks that
waited in vain can name the rank that never came and the stage it did not finish.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, Final, Protocol

import numpy as np

from harness.errors import HarnessError

GATHER_BYTES = 64 << 20
"""Largest payload one rank sends to rank 0 in one gather round (bounds the memory of a round)."""


class DistributedError(HarnessError):
    """A rank failed, so the whole distributed run stops."""


class World(Protocol):
    """The processes of a run, as the engine sees them: who this one is, and how they exchange.

    Two implementations: :class:`LocalWorld` (one process, nothing to exchange) and
    :class:`ProcessGroupWorld` (ranks started by torchrun). The engine takes a ``World`` and
    runs the same code in both.
    """

    @property
    def rank(self) -> int:
        """This process's rank, 0 .. ``world_size`` - 1."""
        ...

    @property
    def world_size(self) -> int:
        """How many processes share the work."""
        ...

    @property
    def is_main(self) -> bool:
        """True on the process that scores and writes (rank 0)."""
        ...

    def check(self, stage: str, error: BaseException | None) -> None:
        """Stop every process when any failed ``stage``; ``error`` is this process's failure or None."""
        ...

    def gather_to_main(
        self,
        rows: Sequence[int],
        load: Callable[[int], np.ndarray],
        nbytes: Sequence[int],
        stage: str = "sending its embeddings",
    ) -> Iterator[tuple[int, np.ndarray]]:
        """Bring every process's arrays to the main one: ``(global index, array)`` there, nothing elsewhere.

        ``rows[i]`` is the global index of this process's ``i``-th array, ``load(i)`` reads it and
        ``nbytes[i]`` is its size.
        """
        ...

    def barrier(self, stage: str = "the run") -> None:
        """Wait until every process has finished ``stage``."""
        ...

    def total(self, counts: Sequence[int], stage: str = "counting") -> list[int]:
        """The element-wise sum of ``counts`` over every process (each process passes as many)."""
        ...


class LocalWorld:
    """A run in one process: rank 0 of 1, the main process; exchanges are immediate.

    Its ``check`` raises this process's own error unchanged, so a single-process run fails with
    the error's own type and message (never a ``DistributedError``). Needs no torch.
    """

    @property
    def rank(self) -> int:
        """Always 0."""
        return 0

    @property
    def world_size(self) -> int:
        """Always 1."""
        return 1

    @property
    def is_main(self) -> bool:
        """Always True: the one process scores and writes."""
        return True

    def check(self, stage: str, error: BaseException | None) -> None:
        """Raise ``error`` as it is, when there is one."""
        if error is not None:
            raise error

    def gather_to_main(
        self,
        rows: Sequence[int],
        load: Callable[[int], np.ndarray],
        nbytes: Sequence[int],
        stage: str = "sending its embeddings",
    ) -> Iterator[tuple[int, np.ndarray]]:
        """Yield this process's own arrays, ``(rows[i], load(i))`` in order; nothing is sent."""
        for position, index in enumerate(rows):
            yield index, load(position)

    def barrier(self, stage: str = "the run") -> None:
        """Nothing to wait for."""

    def total(self, counts: Sequence[int], stage: str = "counting") -> list[int]:
        """This process's counts are the total."""
        return list(counts)


SINGLE_PROCESS: Final[World] = LocalWorld()
"""The world of a run that torchrun did not start."""


@dataclass(frozen=True)
class ProcessGroupWorld:
    """This process's place in a distributed run and the group used for host-side exchange."""

    rank: int
    world_size: int
    local_rank: int
    group: Any
    """The process group for CPU objects (gloo): embeddings are NumPy arrays on the host."""
    timeout_minutes: float = 60.0
    """How long a rank waits for the others at an exchange (``--dist_timeout``)."""
    arrivals: Any = None
    """Store where each rank marks its arrival at each exchange; ``None`` when the group has none."""
    _exchanges: Iterator[int] = field(default_factory=itertools.count, repr=False, compare=False)

    @property
    def is_main(self) -> bool:
        """True on rank 0, the rank that scores and writes."""
        return self.rank == 0

    def check(self, stage: str, error: BaseException | None) -> None:
        """Exchange statuses; raise ``DistributedError`` on every rank if any rank failed ``stage``."""
        import torch.distributed as dist

        status = None if error is None else f"{type(error).__name__}: {error}"
        statuses: list[str | None] = [None] * self.world_size
        try:
            with self.exchange(stage):
                dist.all_gather_object(statuses, status, group=self.group)
        except DistributedError as lost:
            if status is None:
                raise
            # This rank's own failure is the one to fix first; the missing rank comes second.
            raise DistributedError(f"rank {self.rank} failed while {stage}: {status}; and {lost}") from error
        failed = [(rank, message) for rank, message in enumerate(statuses) if message is not None]
        if failed:
            rank, message = failed[0]
            others = f" (and rank {', '.join(str(r) for r, _ in failed[1:])})" if len(failed) > 1 else ""
            raise DistributedError(f"rank {rank} failed while {stage}{others}: {message}") from error

    def gather_to_main(
        self,
        rows: Sequence[int],
        load: Callable[[int], np.ndarray],
        nbytes: Sequence[int],
        stage: str = "sending its embeddings",
    ) -> Iterator[tuple[int, np.ndarray]]:
        """Send this rank's arrays to rank 0 in rounds of at most ``GATHER_BYTES`` per rank.

        ``rows[i]`` is the global index of the ``i``-th local array, ``load(i)`` reads it and
        ``nbytes[i]`` is its size. Yields ``(global index, array)`` on rank 0, nothing elsewhere.
        ``stage`` names the sending in a timeout's message.
        """
        import torch.distributed as dist

        pieces = _split_by_bytes(nbytes, GATHER_BYTES)
        counts: list[int] = [0] * self.world_size
        with self.exchange(stage):
            dist.all_gather_object(counts, len(pieces), group=self.group)
        for round_index in range(max(counts)):
            piece = pieces[round_index] if round_index < len(pieces) else range(0)
            payload = [(rows[i], load(i)) for i in piece]
            received: list[Any] | None = [None] * self.world_size if self.is_main else None
            with self.exchange(stage):
                dist.gather_object(payload, received, dst=0, group=self.group)
            if received is not None:
                for rank_items in received:
                    yield from rank_items

    def barrier(self, stage: str = "the run") -> None:
        """Wait for every rank to finish ``stage``."""
        import torch.distributed as dist

        with self.exchange(stage):
            dist.barrier(group=self.group)

    def total(self, counts: Sequence[int], stage: str = "counting") -> list[int]:
        """Sum ``counts`` over the ranks (every rank gets the total)."""
        import torch.distributed as dist

        gathered: list[list[int] | None] = [None] * self.world_size
        with self.exchange(stage):
            dist.all_gather_object(gathered, list(counts), group=self.group)
        return [sum(values) for values in zip(*(g or [0] * len(counts) for g in gathered), strict=True)]

    @contextmanager
    def exchange(self, stage: str) -> Iterator[None]:
        """Around one collective call that every rank makes after ``stage``: this rank marks its arrival,
        and a timeout or a lost connection becomes a ``DistributedError`` naming the ranks that never came."""
        index = next(self._exchanges)  # every rank makes the same collective calls in the same order
        try:
            if self.arrivals is not None:
                self.arrivals.set(f"{index}/{self.rank}", stage)
            yield
        except RuntimeError as error:  # what gloo raises for a timeout or a closed connection
            raise self._lost(stage, index, error) from error

    def _lost(self, stage: str, index: int, error: RuntimeError) -> DistributedError:
        absent = self._absent(index)
        detail = (str(error).strip().splitlines() or [type(error).__name__])[0]
        timed_out = "timed out" in detail.lower() or "timeout" in detail.lower()
        if timed_out and absent:
            return DistributedError(
                f"rank {self.rank} waited {self.timeout_minutes:g} minutes (--dist_timeout) for {_ranks(absent)} "
                f"to finish {stage}; stopping"
            )
        if timed_out:
            return DistributedError(
                f"rank {self.rank} waited {self.timeout_minutes:g} minutes (--dist_timeout) for the other ranks "
                f"to finish {stage}; stopping"
            )
        never_came = f" ({_ranks(absent)} never arrived)" if absent else ""
        return DistributedError(f"rank {self.rank} lost the other ranks after {stage}{never_came}: {detail}")

    def _absent(self, index: int) -> list[int]:
        """The ranks that have not marked their arrival at exchange ``index`` (empty when unknown)."""
        if self.arrivals is None:
            return []
        try:
            return [rank for rank in range(self.world_size) if not self.arrivals.check([f"{index}/{rank}"])]
        except RuntimeError:  # the store itself is gone (its host stopped): the message names no rank
            return []


def launched_by_torchrun() -> bool:
    """True when the torchrun environment (``RANK``, ``WORLD_SIZE``) describes several processes."""
    return int(os.environ.get("WORLD_SIZE", "1")) > 1 and "RANK" in os.environ


def init_world(device: str, timeout_minutes: float) -> ProcessGroupWorld:
    """Join the process group that torchrun describes: nccl for CUDA devices, gloo on CPU."""
    import torch.distributed as dist

    timeout = timedelta(minutes=timeout_minutes)
    backend = "nccl" if device.startswith("cuda") else "gloo"
    try:
        if not dist.is_initialized():
            dist.init_process_group(backend=backend, timeout=timeout)
        # Embeddings travel as host objects; NCCL only moves device tensors, so they use a gloo group.
        group = dist.new_group(backend="gloo", timeout=timeout) if backend == "nccl" else dist.group.WORLD
    except RuntimeError as error:  # a rank that never joined, or an unreachable rendezvous address
        detail = (str(error).strip().splitlines() or [type(error).__name__])[0]
        raise DistributedError(
            f"rank {os.environ.get('RANK', '?')} could not join the other ranks within {timeout_minutes:g} minutes "
            f"(--dist_timeout): {detail}"
        ) from error
    return ProcessGroupWorld(
        rank=dist.get_rank(),
        world_size=dist.get_world_size(),
        local_rank=int(os.environ.get("LOCAL_RANK", "0")),
        group=group,
        timeout_minutes=timeout_minutes,
        arrivals=_arrival_store(),
    )


def _arrival_store() -> Any:
    """A key space of the process group's store for arrival marks (``None`` when it cannot be had)."""
    import torch.distributed as dist

    try:
        # The default group's store: the one torchrun's rendezvous gave every rank, reachable by all.
        store = dist.distributed_c10d._get_default_store()
    except (AttributeError, RuntimeError, ValueError):
        return None
    return dist.PrefixStore("harness/arrivals", store)


def world_joined() -> bool:
    """True when this process is already in a process group (e.g. joined by an outer runner)."""
    import torch.distributed as dist

    return dist.is_available() and dist.is_initialized()


def torchrun_command(num_processes: int, module: str, args: Sequence[str]) -> list[str]:
    """The command that runs ``python -m module args`` as ``num_processes`` ranks on this machine."""
    import sys

    return [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        f"--nproc_per_node={num_processes}",
        "-m",
        module,
        *args,
    ]


def close_world(world: World, *, wait_for_all: bool) -> None:
    """Leave the process group (no-op when none was joined).

    With ``wait_for_all`` (a run that ended normally on every rank) the ranks first meet at a
    barrier, so that no rank tears down its connections while another still runs: rank 0 scores
    and writes long after the others have sent their last embeddings, and a gloo rank that
    destroyed its group and exited meanwhile was seen to abort (SIGABRT, "terminate called
    without an active exception"), which torchrun reports as a failed run.
    After an error the ranks have already agreed to stop (``World.check``), or torchrun stops
    the others when this one exits, so none waits.
    """
    import torch.distributed as dist

    if not dist.is_initialized():
        return
    if wait_for_all:
        world.barrier("the run (rank 0 scores and writes each task while the others wait)")
    dist.destroy_process_group()


def _ranks(ranks: Sequence[int]) -> str:
    """``rank 1`` or ``ranks 1, 3``."""
    return f"rank {ranks[0]}" if len(ranks) == 1 else f"ranks {', '.join(str(rank) for rank in ranks)}"


def rank_device(device: str, local_rank: int, world_size: int) -> str:
    """The device of one rank: ``auto`` and ``cuda`` become ``cuda:<local rank>`` when CUDA is present."""
    import torch

    if device.startswith("cuda:") and world_size > 1:
        raise HarnessError(
            f"--device {device}: a distributed run gives each rank its own GPU (cuda:<LOCAL_RANK>); "
            "pass --device auto or cuda and choose GPUs with CUDA_VISIBLE_DEVICES"
        )
    if device == "cuda" or (device == "auto" and torch.cuda.is_available()):
        if not torch.cuda.is_available():
            raise HarnessError("--device cuda requested but CUDA is not available")
        if local_rank >= torch.cuda.device_count():
            raise HarnessError(
                f"rank with LOCAL_RANK {local_rank} has no GPU ({torch.cuda.device_count()} visible): "
                "start at most one process per GPU (--nproc_per_node)"
            )
        torch.cuda.set_device(local_rank)
        return f"cuda:{local_rank}"
    return "cpu" if device == "auto" else device


def assign_batches(costs: Sequence[float], world_size: int) -> list[list[int]]:
    """Deal batch indices to ranks: costliest first, each to the least loaded rank (ties: lower rank).

    Each rank's list is sorted, so it encodes its batches in plan order.
    """
    loads = [0.0] * world_size
    shares: list[list[int]] = [[] for _ in range(world_size)]
    for batch in sorted(range(len(costs)), key=lambda b: (-costs[b], b)):
        rank = min(range(world_size), key=lambda r: (loads[r], r))
        loads[rank] += costs[batch]
        shares[rank].append(batch)
    return [sorted(share) for share in shares]


def _split_by_bytes(nbytes: Sequence[int], limit: int) -> list[range]:
    """Consecutive runs of positions whose sizes add up to at most ``limit`` (one position at least)."""
    pieces: list[range] = []
    start, size = 0, 0
    for position, count in enumerate(nbytes):
        if position > start and size + count > limit:
            pieces.append(range(start, position))
            start, size = position, 0
        size += count
    if start < len(nbytes):
        pieces.append(range(start, len(nbytes)))
    return pieces
