"""Adapter settings: ``--model_args`` validation and the device, dtype and attention choices."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError

from harness.errors import ModelError

SettingsT = TypeVar("SettingsT", bound=BaseModel)


class CheckpointSettings(BaseModel):
    """The ``--model_args`` every checkpoint-loading adapter takes; each adapter's settings extend
    these (and may override ``pretrained``'s default). Unknown keys are rejected."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)

    pretrained: str | None = None
    """Hub id or local folder of the checkpoint."""
    revision: str | None = None
    """Hub revision to pin (commit hash, tag or branch)."""
    dtype: Literal["auto", "float32", "bfloat16", "float16"] = "auto"
    """``auto``: bfloat16 on GPU (as the reference runs), float32 on CPU."""
    attn_implementation: Literal["auto", "sdpa", "eager", "flash_attention_2"] = "auto"
    """``auto``: flash_attention_2 on GPU when installed, else sdpa."""
    trust_remote_code: bool = False
    """Allow code from the checkpoint repository to run; off unless you ask for it."""

    def hub_kwargs(self) -> dict[str, Any]:
        """``revision`` and ``trust_remote_code`` as the ``from_pretrained`` calls take them."""
        return {"revision": self.revision or "main", "trust_remote_code": self.trust_remote_code}


@dataclass(frozen=True)
class Runtime:
    """Where and how a model runs, with every ``auto`` resolved."""

    device: str
    dtype: str
    attn_implementation: str


def resolve_runtime(settings: CheckpointSettings, device: str) -> Runtime:
    """The device, dtype and attention implementation for ``settings`` on ``device``."""
    resolved = resolve_device(device)
    return Runtime(
        resolved, resolve_dtype(settings.dtype, resolved), resolve_attention(settings.attn_implementation, resolved)
    )


def parse_settings(settings_type: type[SettingsT], model_args: Mapping[str, Any], adapter: str) -> SettingsT:
    """Validate ``--model_args`` for ``adapter``; the first problem becomes a one-line ``ModelError``."""
    try:
        return settings_type(**model_args)
    except ValidationError as error:
        first = error.errors()[0]
        key = ".".join(str(p) for p in first["loc"])
        if first["type"] == "extra_forbidden":
            valid = ", ".join(settings_type.model_fields)
            raise ModelError(f"unknown model_arg '{key}' for {adapter} (valid: {valid})") from None
        raise ModelError(f"model_arg '{key}' for {adapter}: {first['msg']}") from None


def resolve_device(device: str) -> str:
    """``auto`` → ``cuda`` when available, else ``cpu``; a CUDA request without CUDA is an error."""
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ModelError(f"--device {device} requested but CUDA is not available")
    return device


def resolve_dtype(dtype: str, device: str) -> str:
    """``auto`` → bfloat16 on GPU (as the reference runs), float32 on CPU."""
    if dtype == "auto":
        return "bfloat16" if device.startswith("cuda") else "float32"
    return dtype


def resolve_attention(choice: str, device: str) -> str:
    """``auto`` → flash_attention_2 on GPU when installed, else sdpa."""
    if choice != "auto":
        return choice
    if device.startswith("cuda"):
        try:
            import flash_attn  # noqa: F401

            return "flash_attention_2"
        except ImportError:
            return "sdpa"
    return "sdpa"
