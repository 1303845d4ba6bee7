"""Model adapters behind one encoder interface, selected by name (``--model NAME``)."""

from harness.encoder_metadata import (
    METADATA_FORMAT_VERSION,
    CheckpointFacts,
    EncoderMetadata,
    LoraFacts,
    encoder_metadata,
    metadata_from_dict,
)
from harness.models.args import parse_model_args
from harness.models.base import (
    BACKBONE_ADAPTERS,
    REFERENCE_RESIZE_ADAPTERS,
    Encoder,
    adapter_for_backbone,
    backbone_model_args,
    check_model_name,
    create_encoder,
    register_model,
    registered_models,
)

__all__ = [
    "BACKBONE_ADAPTERS",
    "METADATA_FORMAT_VERSION",
    "REFERENCE_RESIZE_ADAPTERS",
    "CheckpointFacts",
    "Encoder",
    "EncoderMetadata",
    "LoraFacts",
    "adapter_for_backbone",
    "backbone_model_args",
    "check_model_name",
    "create_encoder",
    "encoder_metadata",
    "metadata_from_dict",
    "parse_model_args",
    "register_model",
    "registered_models",
]
