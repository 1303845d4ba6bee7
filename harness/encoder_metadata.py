"""What an encoder reports about itself for the results: the typed, versioned ``EncoderMetadata``.

A contract between the model adapters (which fill it) and the results (which record it), so it
sits below both, beside :mod:`harness.inputs`; ``harness.models`` re-exports it.

Every built-in adapter's ``metadata()`` returns an :class:`EncoderMetadata`; the run file records
it as ``model.adapter_metadata``. Every field except ``format_version`` is optional, and a fact
is written exactly when the adapter reported it: ``"revision": null`` says that no revision was
pinned, while a key that is absent was not reported (a CLIP run has no ``backbone``). So a
record read back from JSON writes the same JSON again.

Plugin encoders should return an ``EncoderMetadata`` too. One that still returns a plain dict
(the interface before ``format_version`` 1) is accepted: :func:`encoder_metadata` converts it,
the one place that does, validating the keys named here and keeping every other key under
``details``; a value of the wrong type is a one-line ``ModelError`` naming the adapter and key.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal, Protocol

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SerializerFunctionWrapHandler,
    ValidationError,
    model_serializer,
    model_validator,
)

from harness.errors import ModelError


class ReportsMetadata(Protocol):
    """Anything with a ``metadata()`` method: every encoder, dense or multi-vector."""

    def metadata(self) -> Any:
        """The encoder's facts (an :class:`EncoderMetadata`, or a plugin's plain dict)."""
        ...


__all__ = [
    "METADATA_FORMAT_VERSION",
    "CheckpointFacts",
    "EncoderMetadata",
    "LoraFacts",
    "encoder_metadata",
    "metadata_from_dict",
]

METADATA_FORMAT_VERSION: Literal[1] = 1
"""The version of :class:`EncoderMetadata` this harness writes and reads."""


class _ReportedFacts(BaseModel):
    """A record of reported facts: strictly typed, unknown keys refused, and serialised with exactly
    the fields that were given (``null`` included), so that JSON round-trips unchanged."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, use_attribute_docstrings=True)

    @model_serializer(mode="wrap")
    def _reported_only(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        # Applies however the record is dumped, also as a field of an enclosing model.
        data: dict[str, Any] = handler(self)
        return {key: value for key, value in data.items() if key in self.model_fields_set}


class LoraFacts(_ReportedFacts):
    """A LoRA / DoRA adapter merged into its base model on load (values as ``adapter_config.json`` gives them)."""

    adapter: str
    """Hub id or local folder of the adapter checkpoint."""
    base_model: str
    """Hub id or folder of the base model it was merged into."""
    peft_type: str | None = None
    """adapter_config's ``peft_type`` (``LORA``)."""
    r: int | None = None
    """adapter_config's rank ``r``."""
    lora_alpha: int | float | None = None
    """adapter_config's ``lora_alpha`` (the update is scaled by ``lora_alpha / r``)."""
    use_dora: bool | None = None
    """adapter_config's ``use_dora``: weights row-rescaled after the update (DoRA)."""
    use_rslora: bool | None = None
    """adapter_config's ``use_rslora``: scaling ``lora_alpha / sqrt(r)``."""
    target_modules: list[str] | str | None = None
    """adapter_config's ``target_modules``: module names, or a pattern."""
    merged_modules: int | None = None
    """How many modules of the base model received an update."""


class CheckpointFacts(_ReportedFacts):
    """Where the weights came from, beyond the hub id: a local folder's contents, a merged adapter.

    Empty (``{}``) for a hub checkpoint that is not an adapter: its ``resolved_revision`` pins it.
    """

    local_path: str | None = None
    """Absolute path of the checkpoint folder, when it is a local folder."""
    weight_files: dict[str, int] | None = None
    """The folder's ``*.safetensors`` files (the only weights loaded) and their sizes in bytes."""
    lora: LoraFacts | None = None
    """The LoRA / DoRA adapter, when the checkpoint is one (merged into its base model)."""


class EncoderMetadata(_ReportedFacts):
    """Everything needed to reproduce a run's embeddings: checkpoint, revision, settings, dtype,
    device, library versions, and the adapter's rules for prompts, pooling and similarity."""

    format_version: Literal[1] = METADATA_FORMAT_VERSION
    """Version of this record; always written. A record without one (written before it existed,
    in the same shape) is read as version 1."""
    adapter: str | None = None
    """The adapter that produced the embeddings (``vlm2vec``, ``clip``, a plugin's name, ...)."""
    model_class: str | None = None
    """The transformers model class that was loaded (``Qwen2VLForConditionalGeneration``, ...)."""
    model_type: str | None = None
    """The checkpoint config's ``model_type``."""
    resolved_revision: str | None = None
    """The hub commit the checkpoint resolved to; null for a local folder (see ``checkpoint``)."""
    num_parameters: int | None = None
    """Number of model parameters (after any adapter merge)."""
    embedding_dim: int | None = None
    """Width of one embedding (of one token vector, for a late-interaction model)."""
    dtype: str | None = None
    """The dtype the model ran in (``float32``, ``bfloat16``, ``float16``), ``auto`` resolved."""
    device: str | None = None
    """The torch device the model ran on (``cpu``, ``cuda``, ``cuda:1``, ...)."""
    device_name: str | None = None
    """The hardware behind ``device``: the GPU's name, or the CPU's description."""
    attn_implementation: str | None = None
    """The attention implementation (``sdpa``, ``eager``, ``flash_attention_2``), ``auto`` resolved."""
    torch_version: str | None = None
    """``torch.__version__`` of the run."""
    transformers_version: str | None = None
    """``transformers.__version__`` of the run."""
    backbone: str | None = None
    """The backbone family the adapter serves the checkpoint as (``qwen2_vl``, ``qwen2_5_vl``)."""
    pretrained: str | None = None
    """The checkpoint as given: hub id or local folder (an adapter's folder for a LoRA checkpoint)."""
    revision: str | None = None
    """The hub revision as given in ``--model_args``; null when none was pinned."""
    settings: dict[str, Any] | None = None
    """The adapter's ``--model_args`` after validation, every default filled in."""
    checkpoint: CheckpointFacts | None = None
    """Local folder and weight files, merged LoRA adapter."""
    pooling: str | None = None
    """How one vector is taken from the hidden states (``last token``, ``mean``, ``cls``, ...)."""
    similarity: str | None = None
    """How two embeddings are compared (``cosine (dot product of L2-normalised embeddings)``,
    ``dot``, ``maxsim`` for token matrices)."""
    prompt: str | None = None
    """The prompt format the texts are wrapped in, when the adapter adds one."""
    query_prefix: str | None = None
    """Text the model's processor puts before a text query (ColPali ``Question: ``, ColQwen2 ``Query: ``)."""
    visual_prompt_prefix: str | None = None
    """The fixed prompt the model's processor encodes with every image."""
    text_beside_images: str | None = None
    """What becomes of the text of an input that has an image, when it is not encoded with it."""
    fusion: str | None = None
    """How text and image of one input are combined (``sum``, ``image``, ``refuse``)."""
    video: str | None = None
    """How a video input is encoded (``mean_frames``, ``middle sampled frame as an image``, ...)."""
    max_length: int | None = None
    """Text token limit in effect."""
    image_processor: str | None = None
    """Class of the image processor used."""
    image_backend: str | None = None
    """Library images are resized and normalised with (``pil``)."""
    positions: str | None = None
    """Position ids given to the model (``1d``, or ``mrope`` for the model's own 3-D ones)."""
    details: dict[str, Any] = Field(default_factory=dict)
    """Facts with no field of their own (a plugin's dict keys that are not named above); written only when any."""

    @model_validator(mode="before")
    @classmethod
    def _state_the_version(cls, data: Any) -> Any:
        # Puts the version among the given fields, so it is written whether or not it was named.
        if isinstance(data, Mapping) and "format_version" not in data:
            return {"format_version": METADATA_FORMAT_VERSION, **data}
        return data


def encoder_metadata(encoder: ReportsMetadata) -> EncoderMetadata:
    """``encoder.metadata()`` as an :class:`EncoderMetadata`; a plugin's plain dict is converted
    (:func:`metadata_from_dict`), anything else is a ``ModelError``."""
    reported: object = encoder.metadata()
    source = f"{type(encoder).__name__}.metadata()"
    if isinstance(reported, EncoderMetadata):
        return reported
    if isinstance(reported, Mapping):
        return metadata_from_dict(reported, source=source)
    raise ModelError(f"{source} returned a {type(reported).__name__}, not an EncoderMetadata (or a dict)")


def metadata_from_dict(data: Mapping[str, Any], *, source: str) -> EncoderMetadata:
    """Validate an untyped metadata dict: keys named by :class:`EncoderMetadata` are checked against
    their types, every other key goes into ``details``; the first problem is a one-line
    ``ModelError`` naming the adapter (or ``source``) and the key."""
    adapter = data.get("adapter")
    who = f"adapter '{adapter}' ({source})" if isinstance(adapter, str) else source
    fields = EncoderMetadata.model_fields
    known = {key: value for key, value in data.items() if key in fields}
    unknown = {str(key): value for key, value in data.items() if key not in fields}
    details = known.get("details", {})
    if unknown and isinstance(details, Mapping):
        both = sorted(set(details) & set(unknown))
        if both:
            raise ModelError(f"{who}: metadata key '{both[0]}' is given both as a key and in 'details'")
        known["details"] = {**details, **unknown}
    try:
        return EncoderMetadata.model_validate(known)
    except ValidationError as error:
        raise ModelError(f"{who}: {_first_problem(error)}") from None


def _first_problem(error: ValidationError) -> str:
    first = error.errors()[0]
    key, *inner = (str(part) for part in first["loc"])
    where = f" ({'.'.join(inner)})" if inner else ""
    got = f" (got {first['input']!r:.60})" if first["type"] not in ("extra_forbidden", "missing") else ""
    return f"metadata key '{key}'{where}: {first['msg']}{got}"
