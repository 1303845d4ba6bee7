"""Adapter settings: ``--model_args`` validation and the device, dtype and attention choices."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from harness.errors import ModelError

SettingsT = TypeVar("SettingsT", bound=BaseModel)


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
