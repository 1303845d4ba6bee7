"""Qwen2-VL family adapters (VLM2Vec)."""

from harness.models.qwen2_vl.adapter import VLM2VecQwen2VL, VLM2VecSettings, create_vlm2vec, detect_backbone

__all__ = ["VLM2VecQwen2VL", "VLM2VecSettings", "create_vlm2vec", "detect_backbone"]
