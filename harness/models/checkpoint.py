"""Reading checkpoints: their config (with a clear word on remote code), weights, tokenizer and
processors, each failure as one line; and what the results record about them."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from harness.encoder_metadata import CheckpointFacts, LoraFacts
from harness.errors import ModelError
from harness.models.settings import CheckpointSettings, Runtime
from harness.models.weights import first_line, load_pretrained


def load_config(checkpoint: str, revision: str | None, trust_remote_code: bool) -> Any:
    """The checkpoint's transformers config; ``ModelError`` when it cannot be read or needs remote code."""
    from transformers import AutoConfig

    try:
        return AutoConfig.from_pretrained(checkpoint, revision=revision or "main", trust_remote_code=trust_remote_code)
    except Exception as error:  # missing folder, no network, bad json: all user-actionable
        if "trust_remote_code" in str(error) and not trust_remote_code:
            raise ModelError(
                f"'{checkpoint}' ships its own model code, which runs only with trust_remote_code=true "
                "(add it to --model_args if you trust that repository)"
            ) from None
        raise ModelError(f"cannot load a model config from '{checkpoint}': {type(error).__name__}: {error}") from None


def load_model(model_class: Any, checkpoint: str, settings: CheckpointSettings, runtime: Runtime) -> Any:
    """``model_class.from_pretrained`` (safetensors only) with the run's dtype, attention and hub pins, on its
    device, in eval mode; ``ModelError`` naming the checkpoint when its weights cannot be loaded."""
    model = load_pretrained(
        model_class,
        checkpoint,
        revision=settings.revision,
        trust_remote_code=settings.trust_remote_code,
        dtype=runtime.dtype,
        attn_implementation=runtime.attn_implementation,
    )
    return model.to(runtime.device).eval()


def load_part(auto_class: Any, checkpoint: str, part: str, **kwargs: Any) -> Any:
    """``auto_class.from_pretrained`` for a tokenizer, processor or image processor (``part`` names it);
    ``ModelError`` naming the checkpoint when it cannot be loaded."""
    try:
        return auto_class.from_pretrained(checkpoint, **kwargs)
    except Exception as error:  # only the loading call: missing or malformed files of the checkpoint
        raise ModelError(
            f"cannot load the {part} of '{checkpoint}': {type(error).__name__}: {first_line(error)}"
        ) from error


def load_tokenizer(checkpoint: str, **kwargs: Any) -> Any:
    """The checkpoint's tokenizer (``AutoTokenizer``); ``ModelError`` when it cannot be loaded or has no vocabulary."""
    from transformers import AutoTokenizer

    return check_tokenizer(load_part(AutoTokenizer, checkpoint, "tokenizer", **kwargs), checkpoint)


def check_tokenizer(tokenizer: Any, checkpoint: str) -> Any:
    """``tokenizer`` if it knows more than its special tokens; ``ModelError`` naming the missing files otherwise.

    Without its vocabulary files transformers builds a tokenizer of special tokens alone rather than
    failing, which would turn every text into the unknown token.
    """
    if not set(tokenizer.get_vocab()) <= set(tokenizer.all_special_tokens):
        return tokenizer
    files = sorted(set(getattr(tokenizer, "vocab_files_names", {}).values())) or ["tokenizer.json"]
    folder = Path(checkpoint)
    if folder.is_dir() and not any((folder / name).is_file() for name in files):
        detail = f"none of {', '.join(files)} is in the folder"
    else:
        detail = f"its tokenizer files ({', '.join(files)}) hold no vocabulary"
    raise ModelError(f"'{checkpoint}' has no tokenizer: {detail}; save the tokenizer with the model")


def to_embeddings(pooled: Any, *, normalize: bool) -> np.ndarray:
    """One float32 NumPy row per input from a pooled ``(batch, dim)`` tensor, L2-normalised if asked."""
    import torch

    pooled = pooled.float()
    if normalize:
        pooled = torch.nn.functional.normalize(pooled, dim=-1)
    return pooled.cpu().numpy().astype(np.float32, copy=False)


def unsupported_model_type(
    checkpoint: str, model_type: object, adapter: str, supported: Sequence[str] | str
) -> ModelError:
    """The error for a checkpoint of a type ``adapter`` does not serve, listing (or describing) the ones it does."""
    listed = supported if isinstance(supported, str) else ", ".join(supported)
    return ModelError(
        f"'{checkpoint}' has model_type '{model_type}', which the {adapter} adapter does not support "
        f"(supported: {listed})"
    )


def describe_model(
    model: Any, *, adapter: str, embedding_dim: int, dtype: str, device: str, attn_implementation: str | None = None
) -> dict[str, Any]:
    """The facts every adapter records in results (revision, size, dtype, attention, versions), as
    keyword arguments of :class:`EncoderMetadata`; ``attn_implementation`` as the adapter asked for it,
    else as the model's config says."""
    import torch
    import transformers

    config = model.config
    return {
        "adapter": adapter,
        "model_class": type(model).__name__,
        "model_type": getattr(config, "model_type", None),
        # A hub download records the commit it resolved to; a local folder has none.
        "resolved_revision": getattr(config, "_commit_hash", None),
        "num_parameters": int(sum(p.numel() for p in model.parameters())),
        "embedding_dim": int(embedding_dim),
        "dtype": dtype,
        "device": device,
        "device_name": device_name(device),
        "attn_implementation": (
            attn_implementation if attn_implementation is not None else getattr(config, "_attn_implementation", None)
        ),
        "torch_version": torch.__version__,
        "transformers_version": transformers.__version__,
    }


def device_name(device: str) -> str:
    """The hardware behind ``device``: the GPU's name for CUDA, the CPU's description otherwise."""
    import platform

    if device.startswith("cuda"):
        import torch

        return str(torch.cuda.get_device_name(torch.device(device)))
    model = platform.processor()
    try:  # Linux names the model in /proc/cpuinfo; platform.processor() is often empty there
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            model = next((line.split(":", 1)[1].strip() for line in info if line.startswith("model name")), model)
    except OSError:
        pass
    return f"{platform.machine()} CPU ({model or 'unknown model'})"


def local_checkpoint_facts(checkpoint: str, lora: LoraFacts | None = None) -> CheckpointFacts:
    """For a local folder (which has no commit hash): its absolute path and its weight files with their
    sizes; and the LoRA adapter merged from it, if any. Empty for a hub checkpoint that is no adapter."""
    folder = Path(checkpoint)
    facts: dict[str, Any] = {} if lora is None else {"lora": lora}
    if folder.is_dir():
        weights = sorted(folder.glob("*.safetensors"))  # the only weights loaded (harness.models.weights)
        sizes = {path.name: path.stat().st_size for path in weights}
        facts = {"local_path": str(folder.resolve()), "weight_files": sizes, **facts}
    return CheckpointFacts(**facts)
