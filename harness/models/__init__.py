"""Model adapters behind one encoder interface, selected by name (``--model NAME``)."""

from harness.models.args import parse_model_args
from harness.models.base import Encoder, create_encoder, register_model, registered_models

__all__ = ["Encoder", "create_encoder", "parse_model_args", "register_model", "registered_models"]
