"""Qwen2-VL family adapters: VLM2Vec (V2.0, V1, Qwen2.5-VL backbones, LoRA checkpoints) and GME."""

from harness.models.qwen2_vl.adapter import VLM2VecQwen2VL, VLM2VecSettings, create_vlm2vec, detect_backbone
from harness.models.qwen2_vl.gme import GmeQwen2VL, GmeSettings, create_gme

__all__ = [
    "GmeQwen2VL",
    "GmeSettings",
    "VLM2VecQwen2VL",
    "VLM2VecSettings",
    "create_gme",
    "create_vlm2vec",
    "detect_backbone",
]
