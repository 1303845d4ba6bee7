"""What a run can know before it loads the model: the cache store, and the launch identity that
lets a rerun of finished work skip loading the model at all.

The **launch identity** covers what decides the encoder identity (see
:mod:`harness.engine.cache_keys`) and can be read without importing torch: the model and its
arguments as given, the device flag, the content hash of every weight file of a local checkpoint
folder (or a full 40-hex hub commit pinned in the arguments), the installed versions of torch,
transformers, safetensors and flash-attn, and the host (machine, CPU model, visible NVIDIA
devices). When a rerun's launch identity equals the one recorded by the run that finished the
tasks, that run's encoder identity still holds, so finished tasks can be checked — and kept —
without the model. A LoRA adapter folder or an unpinned hub id has none (its base or its commit
is only known once loaded): such a rerun loads the model first.
"""

from __future__ import annotations

import glob
import hashlib
import json
import os
import platform
import re
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from importlib import metadata
from pathlib import Path
from typing import Any

from harness.engine.cache_keys import FileDigests
from harness.engine.embedding_cache import EmbeddingStore
from harness.errors import HarnessError

_PACKAGES = ("torch", "transformers", "safetensors", "flash-attn", "flash_attn")
_COMMIT = re.compile(r"^[0-9a-f]{40}$")


@contextmanager
def open_store(cache_dir: Path | str | None, use_cache: bool) -> Iterator[EmbeddingStore | None]:
    """The embedding cache store (the default folder unless ``cache_dir``), or None when ``use_cache``
    is off or the folder cannot be used (said in one warning line: the run goes on without it)."""
    if not use_cache:
        yield None
        return
    from harness.cache import EmbeddingCache, default_cache_dir

    root = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    try:
        store = EmbeddingCache.open(root)
    except (OSError, HarnessError) as error:
        print(f"warning: embedding cache {root} cannot be used ({error}); running without it", file=sys.stderr)
        yield None
        return
    with store:
        yield store


def launch_identity(model: str, model_args: Mapping[str, Any], device: str, digests: FileDigests) -> str | None:
    """The hex SHA-256 of what decides the encoder before it is loaded, or None when that is not enough."""
    weights = _weights(model_args, digests)
    if weights is None:
        return None
    payload = {
        "model": model,
        "model_args": {key: str(model_args[key]) for key in sorted(model_args)},
        "device": device,
        "weights": weights,
        "packages": {name: _version(name) for name in _PACKAGES},
        "host": _host(),
    }
    text = json.dumps(payload, sort_keys=True, ensure_ascii=True, default=str)
    return hashlib.sha256(text.encode("ascii")).hexdigest()


def _weights(model_args: Mapping[str, Any], digests: FileDigests) -> dict[str, str] | None:
    pretrained = model_args.get("pretrained")
    if isinstance(pretrained, str) and Path(pretrained).is_dir():
        folder = Path(pretrained)
        if (folder / "adapter_config.json").is_file():
            return None  # a LoRA adapter: its base model is known once loaded
        files = sorted(folder.glob("*.safetensors"))
        return {path.name: digests.file_digest(path) for path in files} or None
    revision = model_args.get("revision")
    return {"hub_commit": revision} if isinstance(revision, str) and _COMMIT.match(revision) else None


def _version(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def _host() -> dict[str, Any]:
    cpu = platform.processor()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            cpu = next((line.split(":", 1)[1].strip() for line in info if line.startswith("model name")), cpu)
    except OSError:
        pass
    return {
        "machine": platform.machine(),
        "cpu": cpu,
        "cuda_visible_devices": os.environ.get("CUDA_VISIBLE_DEVICES"),
        "nvidia_devices": sorted(glob.glob("/dev/nvidia[0-9]*")),
    }
