"""Reading a checkpoint's weights: from safetensors only, with one-line errors that name the file.

Pickle weight files (``pytorch_model.bin``, ``*.pt``, ...) are refused rather than unpickled,
even with torch's restricted ``weights_only`` loader: a checkpoint is converted once to
safetensors instead. A local safetensors file is opened before the model is built, so a
truncated download is named; anything else ``from_pretrained`` raises becomes a ``ModelError``
naming the checkpoint and the cause.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from harness.errors import ModelError

PICKLE_SUFFIXES = (".bin", ".pt", ".pth", ".ckpt")
"""Weight files in a pickle-based format."""
TRAINER_STATE_FILES = ("training_args.bin", "optimizer.pt", "scheduler.pt", "scaler.pt")
"""Pickle files a training checkpoint keeps beside its weights; they hold no model weights."""


def pickle_weight_files(folder: Path) -> list[str]:
    """Names of the pickle weight files in ``folder``, sorted (trainer state files are not weights)."""
    return sorted(
        path.name
        for path in folder.iterdir()
        if path.is_file()
        and path.suffix in PICKLE_SUFFIXES
        and path.name not in TRAINER_STATE_FILES
        and not path.name.startswith("rng_state")
    )


def pickle_refused(checkpoint: str, names: Iterable[str]) -> ModelError:
    """The error for a checkpoint whose weights exist only as pickle files."""
    return ModelError(
        f"'{checkpoint}': pickle checkpoints ({', '.join(names)}) are not loaded; convert the weights to safetensors"
    )


def check_local_weights(checkpoint: str) -> None:
    """For a local folder: ``ModelError`` when its weights are pickle files only or a safetensors file is unreadable."""
    folder = Path(checkpoint)
    if not folder.is_dir():
        return  # a hub id: transformers fetches safetensors only (``use_safetensors=True``)
    safetensors = sorted(folder.glob("*.safetensors"))
    pickles = pickle_weight_files(folder)
    if pickles and not safetensors:
        raise pickle_refused(checkpoint, pickles)
    for path in safetensors:
        check_safetensors(path)


def check_safetensors(path: str | Path) -> None:
    """``ModelError`` naming ``path`` when its header is unreadable or its data is shorter than the header says."""
    from safetensors import SafetensorError, safe_open

    try:
        with safe_open(str(path), framework="pt"):
            pass
    except (SafetensorError, OSError) as error:
        raise unreadable_safetensors(str(path), error) from error


def unreadable_safetensors(file: str, error: BaseException) -> ModelError:
    """The error for a safetensors file that cannot be read."""
    return ModelError(f"cannot read weights '{file}': truncated or corrupt safetensors ({first_line(error)})")


def read_safetensors(path: str) -> dict[str, Any]:
    """Every tensor of one safetensors file, on the CPU; ``ModelError`` naming the file when it is unreadable."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    check_safetensors(path)
    try:
        return dict(load_file(path))
    except (SafetensorError, OSError) as error:
        raise unreadable_safetensors(path, error) from error


def load_pretrained(
    model_class: Any,
    checkpoint: str,
    *,
    revision: str | None,
    trust_remote_code: bool,
    dtype: str,
    attn_implementation: str,
) -> Any:
    """``model_class.from_pretrained`` from safetensors weights that fit the config; ``ModelError`` otherwise."""
    import torch

    check_local_weights(checkpoint)
    try:
        # Mismatched shapes are reported by key below rather than by transformers' generic RuntimeError.
        model, info = model_class.from_pretrained(
            checkpoint,
            revision=revision or "main",
            trust_remote_code=trust_remote_code,
            dtype=getattr(torch, dtype),
            attn_implementation=attn_implementation,
            use_safetensors=True,
            ignore_mismatched_sizes=True,
            output_loading_info=True,
        )
    except Exception as error:  # only the loading call: whatever it raises is the checkpoint's to fix
        raise loading_error(checkpoint, revision, error) from error
    mismatched = sorted(info.get("mismatched_keys") or ())
    if mismatched:
        key, in_checkpoint, in_model = mismatched[0]
        raise ModelError(
            f"cannot load model weights from '{checkpoint}': {len(mismatched)} tensors do not have the shapes its "
            f"config.json asks for (first: '{key}' is {list(in_checkpoint)} in the checkpoint, "
            f"{list(in_model)} in the model)"
        )
    return model


def loading_error(checkpoint: str, revision: str | None, error: Exception) -> ModelError:
    """The one-line error for an exception raised while ``from_pretrained`` read ``checkpoint``."""
    from safetensors import SafetensorError

    if isinstance(error, SafetensorError):
        return ModelError(
            f"cannot read weights of '{checkpoint}': truncated or corrupt safetensors ({first_line(error)})"
        )
    if not Path(checkpoint).is_dir() and isinstance(error, OSError):
        pickles = _hub_pickle_weights(checkpoint, revision)
        if pickles:
            return pickle_refused(checkpoint, pickles)
    return ModelError(f"cannot load model weights from '{checkpoint}': {type(error).__name__}: {first_line(error)}")


def _hub_pickle_weights(checkpoint: str, revision: str | None) -> list[str]:
    """The pickle weight files a hub repository has, asked only after its safetensors could not be found."""
    from harness.models.lora import checkpoint_file

    names = ("pytorch_model.bin", "pytorch_model.bin.index.json")
    try:
        return [name for name in names if checkpoint_file(checkpoint, name, revision) is not None]
    except (OSError, ValueError):  # an id the hub cannot look up: the original error says more
        return []


def first_line(error: BaseException) -> str:
    """The first non-empty line of an exception's message (messages from libraries may span many)."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    return lines[0] if lines else type(error).__name__
