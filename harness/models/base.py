"""The encoder interface every model adapter implements, and the registry of adapters."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol, runtime_checkable

import numpy as np

from harness.encoder_metadata import EncoderMetadata
from harness.errors import ModelError
from harness.inputs import EncodeInput, Side
from harness.models.late_interaction.protocol import MultiVectorEncoder


@runtime_checkable
class Encoder(Protocol):
    """Turns a batch of inputs into a float32 matrix, one L2-comparable row per input."""

    def encode(self, inputs: Sequence[EncodeInput], side: Side) -> np.ndarray:
        """Embed ``inputs`` (queries or candidates) as a ``[len(inputs), dim]`` float32 array."""
        ...

    def metadata(self) -> EncoderMetadata:
        """Everything needed to reproduce the run: checkpoint, revision, settings, dtype, device.

        Read it through :func:`harness.models.encoder_metadata`, which also accepts the plain dict
        older plugins return (converted and validated there, once).
        """
        ...


@runtime_checkable
class BatchPreparer(Protocol):
    """The CPU half of an encoder: what it knows of an input before the model sees it.

    It must be cheap to hand to a worker process (a tokenizer and a processor, never the model):
    the engine calls :meth:`prepare` in preprocessing workers while the model runs the batch
    before, and :meth:`sequence_lengths` on every input before batching.
    """

    def sequence_lengths(self, inputs: Sequence[EncodeInput]) -> list[int]:
        """The exact number of tokens the model sees for each input (text and media), read without
        decoding any media (image headers; a video's first frame)."""
        ...

    def prepare(self, inputs: Sequence[EncodeInput], side: Side) -> Any:
        """Decode, resize and tokenise one batch into what :meth:`StagedEncoder.encode_prepared`
        takes (CPU tensors); picklable."""
        ...


@runtime_checkable
class StagedEncoder(Encoder, Protocol):
    """An encoder split into a CPU stage (its :class:`BatchPreparer`) and a model stage.

    ``encode(inputs, side)`` must equal ``encode_prepared(preparer().prepare(inputs, side))``:
    splitting the call moves the preprocessing off the critical path and changes no number.
    """

    def preparer(self) -> BatchPreparer:
        """The encoder's preprocessing, to be run in worker processes."""
        ...

    def encode_prepared(self, prepared: Any) -> np.ndarray:
        """Embed one batch made by :meth:`BatchPreparer.prepare` as a ``[batch, dim]`` float32 array."""
        ...


def accepts_audio(encoder: object) -> bool:
    """Whether an adapter encodes audio inputs: its ``accepts_audio`` attribute, True only when set
    so. Only the ``omni`` adapter does; the engine refuses a task with audio before encoding (one line
    naming the adapter and the task), so each adapter need not check its inputs itself."""
    return getattr(encoder, "accepts_audio", False) is True


def accepts_image_lists(encoder: object) -> bool:
    """Whether an adapter encodes image lists (``EncodeInput.images``: several images, or slots
    without one, in one input): its ``accepts_image_lists`` attribute, True only when set so. Only
    the ``vlm2vec`` adapter does; the engine refuses a task with image lists before encoding (one
    line naming the adapter and the task), as it refuses audio."""
    return getattr(encoder, "accepts_image_lists", False) is True


AnyEncoder = Encoder | MultiVectorEncoder
"""A single-vector encoder, or a late-interaction one (token matrices, MaxSim)."""

EncoderFactory = Callable[[Mapping[str, Any], str], AnyEncoder]
"""Builds an encoder from parsed ``--model_args`` and a device string."""

_REGISTRY: dict[str, EncoderFactory] = {}
_DESCRIPTIONS: dict[str, str] = {}


def register_model(*names: str, description: str = "") -> Callable[[EncoderFactory], EncoderFactory]:
    """Register an encoder factory under one or more names (``--model NAME``)."""

    def decorate(factory: EncoderFactory) -> EncoderFactory:
        for name in names:
            if name in _REGISTRY and _REGISTRY[name] is not factory:
                raise ValueError(f"model name '{name}' is already registered")
            _REGISTRY[name] = factory
            _DESCRIPTIONS[name] = description
        return factory

    return decorate


BACKBONE_ADAPTERS = {
    "qwen2_vl": "vlm2vec",
    "qwen2_5_vl": "vlm2vec",
    "gme": "gme",
    "nvomniembed": "omni",
    "e5_omni": "omni",
    "lco_omni": "omni",
}
"""The reference's ``--model_backbone`` names and the adapter that serves each."""

BACKBONE_MODEL_ARGS: dict[str, dict[str, Any]] = {
    "nvomniembed": {"style": "nvomniembed"},
    "e5_omni": {"style": "e5_omni"},
    "lco_omni": {"style": "lco_omni"},
}
"""Adapter arguments a backbone name implies (the omni backbones are one adapter, three styles)."""

UNSUPPORTED_BACKBONES = {
    "wave": "WAVE feeds the raw waveform to its own BEATs audio branch, which no adapter here has",
    "qwen3_vl": "no Qwen3-VL-Embedding adapter here",
    "qwen2_5_omni": "no adapter for the reference's own Qwen2.5-Omni embedding processor and LoRA checkpoints",
    "jina_omni": "no adapter for jina-embeddings-v5-omni (custom Qwen3 code)",
}
"""Backbones of the reference that no adapter here serves, and why (named in the one-line error)."""


REFERENCE_RESIZE_ADAPTERS = frozenset({"vlm2vec", "omni"})
"""Adapters that take the reference's ``--resize_min_pixels`` / ``--resize_max_pixels`` as their
``min_pixels`` / ``max_pixels``: its Qwen2-VL wrapper and its omni collator do, its GME wrapper
keeps its own bounds."""


def adapter_for_backbone(backbone: str) -> str:
    """The adapter name for a reference backbone name; ``ModelError`` for an unsupported one."""
    adapter = BACKBONE_ADAPTERS.get(backbone)
    if adapter is None:
        supported = ", ".join(BACKBONE_ADAPTERS)
        reason = f": {UNSUPPORTED_BACKBONES[backbone]}" if backbone in UNSUPPORTED_BACKBONES else ""
        raise ModelError(f"--model_backbone {backbone} is not supported{reason} (supported: {supported})")
    return adapter


def backbone_model_args(backbone: str) -> dict[str, Any]:
    """The adapter arguments ``backbone`` implies beyond the adapter's name (empty for most)."""
    adapter_for_backbone(backbone)
    return dict(BACKBONE_MODEL_ARGS.get(backbone, {}))


def is_registered(name: str) -> bool:
    """Whether an adapter is registered as ``name`` (built-ins and plugins loaded so far)."""
    return name in _REGISTRY


def registered_models() -> dict[str, str]:
    """Registered model names and their one-line descriptions."""
    _load_builtin_adapters()
    return dict(sorted(_DESCRIPTIONS.items()))


def check_model_name(name: str) -> None:
    """``ModelError`` naming the registered adapters (and the closest one) if ``name`` is none of them."""
    _load_builtin_adapters()
    if name in _REGISTRY:
        return
    import difflib

    close = difflib.get_close_matches(name, list(_REGISTRY), n=1)
    hint = f"; did you mean '{close[0]}'?" if close else ""
    raise ModelError(f"unknown model '{name}' (known: {', '.join(sorted(_REGISTRY))}){hint}")


def create_encoder(name: str, model_args: Mapping[str, Any], device: str) -> AnyEncoder:
    """Build the encoder registered as ``name``."""
    check_model_name(name)
    return _REGISTRY[name](model_args, device)


_BUILTIN_ADAPTER_MODULES = (
    "harness.models.qwen2_vl",
    "harness.models.omni",
    "harness.models.dual_encoder",
    "harness.models.text_encoder",
    "harness.models.late_interaction.colvision",
)
"""Modules whose import registers the built-in adapters (torch loads lazily inside them)."""


def _load_builtin_adapters() -> None:
    # Importing an adapter module runs its @register_model decorators; then third-party plugins register.
    import importlib

    from harness.models.plugins import load_plugins

    for module in _BUILTIN_ADAPTER_MODULES:
        importlib.import_module(module)
    load_plugins()
