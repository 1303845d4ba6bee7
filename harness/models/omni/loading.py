"""Loading a Qwen2.5-Omni thinker and its processor with the stock transformers classes.

Served ``model_type`` values: ``qwen2_5_omni_thinker`` (e5-omni, LCO-Embedding-Omni) and
``nvomniembed`` (Omni-Embed-Nemotron, whose checkpoint code subclasses the thinker's config and
model and only makes the text decoder bidirectional: the adapter does that itself, so the
checkpoint's code is never needed or run). The config is read as a ``Qwen2_5OmniThinkerConfig``
from ``config.json``, without ``AutoConfig``'s remote-code lookup. ``trust_remote_code`` (off by
default) is only handed to the tokenizer / processor loaders: a checkpoint whose tokenizer or
processor really is custom code needs ``trust_remote_code=true`` in ``--model_args``, given by the user.
"""

from __future__ import annotations

from typing import Any

from harness.errors import ModelError
from harness.models.checkpoint import load_part, load_tokenizer, unsupported_model_type
from harness.models.omni.settings import OmniSettings
from harness.models.settings import Runtime
from harness.models.weights import first_line, load_pretrained

SUPPORTED_MODEL_TYPES = ("qwen2_5_omni_thinker", "nvomniembed")


def checkpoint_model_type(settings: OmniSettings) -> str:
    """``model_type`` of ``config.json``; ``ModelError`` when unreadable or not a thinker checkpoint."""
    from transformers import PretrainedConfig

    try:
        raw, _ = PretrainedConfig.get_config_dict(settings.pretrained, revision=settings.revision or "main")
    except Exception as error:  # missing folder, no network, bad json: all the user's to fix
        raise ModelError(
            f"cannot load a model config from '{settings.pretrained}': {type(error).__name__}: {first_line(error)}"
        ) from None
    model_type = raw.get("model_type")
    if model_type not in SUPPORTED_MODEL_TYPES:
        raise unsupported_model_type(settings.pretrained, model_type, "omni", SUPPORTED_MODEL_TYPES)
    return str(model_type)


def load_thinker(settings: OmniSettings, runtime: Runtime) -> Any:
    """The thinker model (safetensors only), in eval mode on the run's device."""
    import transformers

    model = load_pretrained(
        transformers.Qwen2_5OmniThinkerForConditionalGeneration,
        settings.pretrained,
        revision=settings.revision,
        trust_remote_code=settings.trust_remote_code,
        dtype=runtime.dtype,
        attn_implementation=runtime.attn_implementation,
    )
    return model.to(runtime.device).eval()


def make_bidirectional(model: Any) -> None:
    """Make every text-decoder layer attend both ways, as Omni-Embed-Nemotron's checkpoint code does
    (flash attention reads this flag; SDPA and eager get a padding-only mask at forward time)."""
    for layer in model.model.language_model.layers:
        layer.self_attn.is_causal = False


def build_processor(settings: OmniSettings) -> Any:
    """A ``Qwen2_5OmniProcessor`` of the checkpoint's parts: PIL image backend with the pixel bounds,
    a video processor that neither samples nor re-resizes beyond the bounds, Whisper features,
    the checkpoint's tokenizer (left padding) and chat template."""
    from transformers import (
        AutoFeatureExtractor,
        AutoImageProcessor,
        AutoVideoProcessor,
        Qwen2_5OmniProcessor,
    )

    common: dict[str, Any] = settings.hub_kwargs()
    bounds: dict[str, Any] = {
        "size": {"shortest_edge": settings.min_pixels, "longest_edge": settings.max_pixels},
        "min_pixels": settings.min_pixels,
        "max_pixels": settings.max_pixels,
    }
    source = settings.pretrained
    image_processor = load_part(AutoImageProcessor, source, "image processor", backend="pil", **bounds, **common)
    video_processor = load_part(
        AutoVideoProcessor, source, "video processor", do_sample_frames=False, **bounds, **common
    )
    feature_extractor = load_part(AutoFeatureExtractor, source, "audio feature extractor", **common)
    tokenizer = load_tokenizer(source, **common)
    tokenizer.padding_side = "left"
    template = getattr(tokenizer, "chat_template", None)
    if not template:
        raise ModelError(f"'{source}' has no chat template (chat_template.jinja or the tokenizer's chat_template)")
    missing = [name for name in ("image_token", "video_token", "audio_token") if not getattr(tokenizer, name, None)]
    if missing:
        raise ModelError(
            f"'{source}': the tokenizer names no {', '.join(missing)} (extra_special_tokens); "
            "it is not a Qwen2.5-Omni tokenizer"
        )
    return Qwen2_5OmniProcessor(
        image_processor=image_processor,
        video_processor=video_processor,
        feature_extractor=feature_extractor,
        tokenizer=tokenizer,
        chat_template=template,
    )
