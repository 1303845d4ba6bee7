"""Preprocessing in worker processes: batches prepared ahead of the model, in plan order.

Decoding, resizing and tokenising a batch (an encoder's :class:`~harness.models.base.BatchPreparer`)
take longer than the forward pass on a GPU, and on a CPU they still compete with it for time if
they run in the same loop. :func:`prepared_batches` runs them in ``num_workers`` processes (a
``torch.utils.data.DataLoader`` over the batch plan, each item one whole batch, collated in the
worker), at most ``prefetch`` batches per worker ahead, in pinned memory when the model is on a
GPU; this process prepares the first batch itself while the workers start. With
``num_workers=0`` it prepares each batch when it is needed. Either way the batches come in plan
order and are the same tensors, so no number changes (on a CPU, giving the workers cores by
lowering the model's thread count changes float rounding, as any thread count does).

A worker's error (a broken image) is sent back as the exception itself and raised here, so the
message names the file as it would without workers (one that cannot cross the process boundary
comes back as a ``DataError``, or a ``RuntimeError`` naming its type, with the same message).
Workers inherit the process's pixel budget (:func:`harness.media.image.image_pixel_budget`),
set again in each worker so that it holds whatever the start method.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import sys
import time
from collections.abc import Callable, Generator, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from harness.errors import DataError, HarnessError
from harness.media.image import image_pixel_budget, max_image_pixels

Prepare = Callable[[Sequence[int]], Any]
"""Prepares the batch of these input indices (a picklable callable: it may run in a worker)."""

DEFAULT_PREFETCH = 2
"""Batches each worker prepares ahead of the model."""
MAX_DEFAULT_WORKERS = 8


@dataclass(frozen=True)
class Workers:
    """How batches are prepared: in ``num_workers`` worker processes (0: in this process), in pinned
    memory for a GPU."""

    num_workers: int = 0
    pin_memory: bool = False
    main_threads: int | None = None
    """The most torch threads of this process while workers run (on a CPU the model and the
    workers share the cores: without a cap the two oversubscribe them); None: unchanged."""


@dataclass(frozen=True)
class Prepared:
    """One prepared batch and what it took."""

    batch: list[int]
    """The input indices of the batch, as planned."""
    data: Any
    """What the preparer made of it."""
    seconds: float
    """Seconds spent preparing it (in whichever process did)."""


def default_num_workers(device: str, cpu_count: int | None = None, local_processes: int = 1) -> int:
    """Preprocessing workers when ``--num_workers`` is not given.

    On a GPU: every core this process's share of the machine has but one (for the process
    itself), at most 8. On a CPU the model and the workers share the cores: one worker, so that
    preprocessing overlaps the forward pass without taking more than its turn; none on one core.
    """
    cores = cpu_count if cpu_count is not None else available_cores()
    share = max(1, cores // max(1, local_processes))
    if device.startswith("cuda"):
        return max(1, min(MAX_DEFAULT_WORKERS, share - 1))
    return 1 if share >= 2 else 0


def prepared_batches(
    prepare: Prepare,
    batches: Sequence[list[int]],
    num_workers: int,
    *,
    pin_memory: bool = False,
    prefetch: int = DEFAULT_PREFETCH,
    main_threads: int | None = None,
) -> Generator[Prepared, None, None]:
    """Each batch of ``batches`` prepared by ``prepare``, in order, ``num_workers`` processes ahead.

    While workers run, this process's torch threads are at most ``main_threads`` (when given), then
    restored; closing the generator stops the workers at once.
    """
    if num_workers < 0:
        raise ValueError("num_workers must be >= 0")
    if num_workers == 0 or len(batches) <= 1:  # one batch: a worker could only add its start-up
        for batch in batches:
            start = time.perf_counter()
            data = prepare(batch)
            yield Prepared(list(batch), data, time.perf_counter() - start)
        return
    workers = min(num_workers, len(batches) - 1)
    with _torch_threads(main_threads):
        yield from _from_workers(prepare, batches, workers, pin_memory, prefetch)


@contextmanager
def _torch_threads(count: int | None) -> Iterator[None]:
    if count is None:
        yield
        return
    import torch

    previous = torch.get_num_threads()
    torch.set_num_threads(min(previous, count))
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def cpu_main_threads(num_workers: int, cpu_count: int | None = None, local_processes: int = 1) -> int:
    """The most torch threads for a model on the CPU beside ``num_workers`` preprocessing workers:
    the cores this process's share leaves them, at least one (a cap: a lower thread count set by
    the user or by torchrun stays as it is)."""
    cores = cpu_count if cpu_count is not None else available_cores()
    return max(1, cores // max(1, local_processes) - num_workers)


def available_cores() -> int:
    """The cores this process may run on (its affinity where the OS has one, else every core)."""
    affinity = getattr(os, "sched_getaffinity", None)  # not on macOS
    return len(affinity(0)) if affinity is not None else os.cpu_count() or 1


class _BatchDataset:
    """The batch plan as a map-style dataset: item ``i`` is batch ``i`` prepared, or the error."""

    def __init__(self, prepare: Prepare, batches: Sequence[list[int]], pixel_budget: int) -> None:
        self.prepare = prepare
        self.batches = [list(b) for b in batches]
        self.pixel_budget = pixel_budget
        self.parent = os.getpid()

    def __len__(self) -> int:
        return len(self.batches)

    def __getitem__(self, position: int) -> tuple[int, Any, float, BaseException | None]:
        start = time.perf_counter()
        try:
            with image_pixel_budget(self.pixel_budget):
                data = self.prepare(self.batches[position])
        except Exception as error:  # sent back and raised in the main process
            return position, None, time.perf_counter() - start, _sendable(error)
        return position, data, time.perf_counter() - start, None


def _sendable(error: Exception) -> Exception:
    """``error`` itself when it crosses a process boundary unchanged, else one that says the same:
    a ``DataError`` for ours, a ``RuntimeError`` naming the type for others (an exception that
    cannot be pickled would be dropped on the way and leave the run waiting)."""
    try:
        # Our own bytes, made just now in this process (never read from a file or a stranger).
        copy = pickle.loads(pickle.dumps(error))  # noqa: S301
    except Exception:
        copy = None
    if copy is not None and type(copy) is type(error) and str(copy) == str(error):
        return error
    if isinstance(error, HarnessError):
        return DataError(str(error))
    return RuntimeError(f"{type(error).__name__}: {error}")


def _identity(item: Any) -> Any:
    return item


_PR_SET_PDEATHSIG = 1
"""Linux ``prctl`` option: the signal a process gets when its parent dies."""


def _die_with_parent(worker_id: int) -> None:
    """In a worker: be killed by the kernel when the run's process dies (a ``kill -9`` of the run
    must not leave workers behind, whatever they are blocked on); elsewhere than Linux, rely on
    the DataLoader's own check of its parent."""
    import ctypes
    import signal

    from torch.utils.data import get_worker_info

    info = get_worker_info()
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL))
    if info is not None and os.getppid() != getattr(info.dataset, "parent", os.getppid()):  # died already
        os._exit(0)


def _from_workers(
    prepare: Prepare, batches: Sequence[list[int]], num_workers: int, pin_memory: bool, prefetch: int
) -> Iterator[Prepared]:
    from torch.utils.data import DataLoader

    # Workers are forked after the parent has tokenised: tell the tokenizers library not to use
    # its thread pool there (it would warn once per worker, and could deadlock).
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    # The workers take every batch but the first, which this process prepares while they start.
    dataset = _BatchDataset(prepare, batches[1:], max_image_pixels())
    loader: DataLoader[Any] = DataLoader(
        dataset,  # type: ignore[arg-type]  # a map-style dataset by protocol
        batch_size=None,  # each item is a whole batch already
        shuffle=False,
        num_workers=num_workers,
        collate_fn=_identity,
        pin_memory=pin_memory,
        prefetch_factor=prefetch,
        persistent_workers=False,
        worker_init_fn=_die_with_parent,
    )
    iterator = iter(loader)  # the workers start now
    try:
        start = time.perf_counter()
        data = prepare(batches[0])
        yield Prepared(list(batches[0]), data, time.perf_counter() - start)
        for expected, (position, data, seconds, error) in enumerate(iterator):
            if position != expected:  # the loader keeps order; a different one is a bug, never silent
                raise RuntimeError(f"preprocessing workers returned batch {position} where {expected} was due")
            if error is not None:
                raise error
            yield Prepared(dataset.batches[position], data, seconds)
    finally:
        del iterator  # the last reference: its workers stop now, not when it is collected
