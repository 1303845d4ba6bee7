"""Tiny checkpoints for adapter tests, built from configs in code (random weights, seeded).

Each builder saves a model, a tokenizer and (for vision models) an image processor with
``save_pretrained`` into a folder and returns it; nothing is downloaded.
"""

from __future__ import annotations

import shutil
from pathlib import Path

GOLDEN_QWEN2VL = Path(__file__).parent / "data" / "golden" / "tiny-qwen2vl"
WORDS = [
    *("a", "an", "the", "of", "red", "blue", "green", "square", "circle", "cat", "dog", "photo"),
    *("query", "passage", "find", "image", "video", "text"),
]
SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]"]


def word_tokenizer(folder: Path, *, add_cls: bool) -> dict[str, int]:
    """A whitespace word-level tokenizer over :data:`WORDS`; ``add_cls`` wraps texts in [CLS] … [SEP],
    otherwise only [SEP] is appended (the end-of-text token CLIP pools at). Returns the vocabulary."""
    from tokenizers import Tokenizer, models, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast

    vocab = {token: index for index, token in enumerate(SPECIALS + WORDS)}
    tokenizer = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
    tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()
    template = "[CLS] $A [SEP]" if add_cls else "$A [SEP]"
    special = [("[CLS]", vocab["[CLS]"]), ("[SEP]", vocab["[SEP]"])]
    tokenizer.post_processor = processors.TemplateProcessing(single=template, special_tokens=special)
    wrapped = PreTrainedTokenizerFast(
        tokenizer_object=tokenizer, pad_token="[PAD]", unk_token="[UNK]", cls_token="[CLS]", sep_token="[SEP]"
    )
    wrapped.save_pretrained(folder)
    return vocab


def _tower(**extra: int) -> dict[str, int]:
    return {"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 2, "num_attention_heads": 4, **extra}


def tiny_clip(folder: Path) -> Path:
    """A CLIP checkpoint: 32-px images, 8-px patches, projection 16."""
    import torch
    from transformers import CLIPConfig, CLIPImageProcessor, CLIPModel

    vocab = word_tokenizer(folder, add_cls=True)
    text = _tower(vocab_size=len(vocab), max_position_embeddings=32)
    text.update(eos_token_id=vocab["[SEP]"], bos_token_id=vocab["[CLS]"], pad_token_id=vocab["[PAD]"])
    config = CLIPConfig(text_config=text, vision_config=_tower(image_size=32, patch_size=8), projection_dim=16)
    torch.manual_seed(0)
    CLIPModel(config).save_pretrained(folder)
    CLIPImageProcessor(size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32}).save_pretrained(folder)
    return folder


def tiny_siglip(folder: Path) -> Path:
    """A SigLIP checkpoint: 32-px images, text padded to 16 tokens."""
    import torch
    from transformers import SiglipConfig, SiglipImageProcessor, SiglipModel

    vocab = word_tokenizer(folder, add_cls=False)
    text = _tower(vocab_size=len(vocab), max_position_embeddings=16)
    config = SiglipConfig(text_config=text, vision_config=_tower(image_size=32, patch_size=8))
    torch.manual_seed(0)
    SiglipModel(config).save_pretrained(folder)
    SiglipImageProcessor(size={"height": 32, "width": 32}).save_pretrained(folder)
    return folder


def tiny_bert(folder: Path) -> Path:
    """A BERT encoder with [CLS] … [SEP] tokenization."""
    import torch
    from transformers import BertConfig, BertModel

    vocab = word_tokenizer(folder, add_cls=True)
    torch.manual_seed(0)
    BertModel(BertConfig(vocab_size=len(vocab), max_position_embeddings=64, **_tower())).save_pretrained(folder)
    return folder


def copy_qwen_processor_files(folder: Path) -> None:
    """The golden tiny Qwen2-VL tokenizer and image/video processor configs, copied into ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    for path in GOLDEN_QWEN2VL.iterdir():
        if path.name not in ("config.json", "model.safetensors", "generation_config.json"):
            shutil.copyfile(path, folder / path.name)


def tiny_qwen2_5_vl(folder: Path) -> Path:
    """A Qwen2.5-VL checkpoint sharing the golden Qwen2-VL tokenizer and token ids."""
    import torch
    from transformers import Qwen2_5_VLConfig, Qwen2_5_VLForConditionalGeneration

    text = {
        "vocab_size": 512,
        "hidden_size": 64,
        "intermediate_size": 128,
        "num_hidden_layers": 2,
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
        "rope_scaling": {"type": "mrope", "mrope_section": [2, 3, 3]},
        "bos_token_id": 500,
        "eos_token_id": 502,
        "pad_token_id": 500,
    }
    vision = {"depth": 2, "hidden_size": 32, "intermediate_size": 64, "num_heads": 4, "out_hidden_size": 64}
    vision.update(fullatt_block_indexes=[1], window_size=56, patch_size=14, spatial_merge_size=2)
    config = Qwen2_5_VLConfig(
        text_config=text,
        vision_config=vision,
        image_token_id=505,
        video_token_id=506,
        vision_start_token_id=503,
        vision_end_token_id=504,
    )
    torch.manual_seed(0)
    Qwen2_5_VLForConditionalGeneration(config).save_pretrained(folder)
    copy_qwen_processor_files(folder)
    return folder


def tiny_colqwen2(folder: Path) -> Path:
    """A ColQwen2 checkpoint on the golden tiny Qwen2-VL config and tokenizer, 16-dim token vectors."""
    import torch
    from transformers import (
        AutoConfig,
        AutoImageProcessor,
        AutoTokenizer,
        ColQwen2Config,
        ColQwen2ForRetrieval,
        ColQwen2Processor,
    )

    torch.manual_seed(0)
    config = ColQwen2Config(vlm_config=AutoConfig.from_pretrained(GOLDEN_QWEN2VL).to_dict(), embedding_dim=16)
    ColQwen2ForRetrieval(config).save_pretrained(folder)
    processor = ColQwen2Processor(
        image_processor=AutoImageProcessor.from_pretrained(GOLDEN_QWEN2VL),
        tokenizer=AutoTokenizer.from_pretrained(GOLDEN_QWEN2VL),
    )
    processor.save_pretrained(folder)
    return folder


COLPALI_IMAGE_TOKENS = 4
"""Image tokens of :func:`tiny_colpali`: (28 px / 14 px patches) ** 2."""
COLPALI_EMBEDDING_DIM = 16
"""Token-vector width of :func:`tiny_colpali`."""


def tiny_colpali(folder: Path) -> Path:
    """A ColPali checkpoint: a 2-layer Gemma and a 2-layer SigLIP on 28 px images (patch 14, so
    :data:`COLPALI_IMAGE_TOKENS` image tokens), and a character-level Gemma tokenizer, so a prompt's
    token count is its character count plus its special tokens."""
    import string

    import torch
    from transformers import ColPaliConfig, ColPaliForRetrieval, ColPaliProcessor, GemmaTokenizer, SiglipImageProcessor

    specials = ["<pad>", "<eos>", "<bos>", "<unk>", "<mask>", "<image>"]
    characters = sorted(set(string.ascii_letters + string.digits + string.punctuation + "\n▁"))
    tokenizer = GemmaTokenizer(vocab={token: i for i, token in enumerate(specials + characters)}, merges=[])
    image_processor = SiglipImageProcessor(size={"height": 28, "width": 28})
    image_processor.image_seq_length = COLPALI_IMAGE_TOKENS  # read by the processor, saved in its config
    processor = ColPaliProcessor(image_processor=image_processor, tokenizer=tokenizer)  # adds <loc>/<seg> tokens
    processor.save_pretrained(folder)
    vocab_size = len(processor.tokenizer)
    vlm_config = {
        "model_type": "paligemma",
        "vision_config": {
            "model_type": "siglip_vision_model",
            "hidden_size": 32,
            "intermediate_size": 64,
            "num_hidden_layers": 2,
            "num_attention_heads": 2,
            "image_size": 28,
            "patch_size": 14,
            "vision_use_head": False,
        },
        "text_config": {
            "model_type": "gemma",
            "hidden_size": 32,
            "intermediate_size": 64,
            "num_hidden_layers": 2,
            "num_attention_heads": 2,
            "num_key_value_heads": 1,
            "head_dim": 16,
            "vocab_size": vocab_size,
        },
        "image_token_index": processor.image_token_id,
        "vocab_size": vocab_size,
        "projection_dim": 32,
        "hidden_size": 32,
    }
    torch.manual_seed(0)
    config = ColPaliConfig(vlm_config=vlm_config, embedding_dim=COLPALI_EMBEDDING_DIM)
    ColPaliForRetrieval(config).save_pretrained(folder)
    return folder


def as_pickle_checkpoint(source: Path, folder: Path) -> Path:
    """A copy of ``source`` whose weights are a pickle ``pytorch_model.bin`` (torch.save of the state dict).

    transformers 5 ignores ``save_pretrained(safe_serialization=False)`` and writes safetensors
    anyway, so the pickle file is written with ``torch.save`` directly, as older checkpoints were.
    """
    import torch
    from safetensors.torch import load_file

    shutil.copytree(source, folder)
    torch.save(load_file(str(folder / "model.safetensors")), folder / "pytorch_model.bin")
    (folder / "model.safetensors").unlink()
    return folder


OMNI_SPECIAL_TOKENS = {
    "image_token": "<|IMAGE|>",
    "audio_token": "<|AUDIO|>",
    "video_token": "<|VIDEO|>",
    "vision_bos_token": "<|vision_bos|>",
    "vision_eos_token": "<|vision_eos|>",
    "audio_bos_token": "<|audio_bos|>",
    "audio_eos_token": "<|audio_eos|>",
}
"""Qwen2.5-Omni's media tokens, added to the golden tokenizer as ids 507-513 in this order."""
OMNI_CHAT_TEMPLATE = (
    "{% for message in messages %}{% if loop.first and message['role'] != 'system' %}<|im_start|>system\n"
    "You are a helpful assistant.<|im_end|>\n{% endif %}<|im_start|>{{ message['role'] }}\n"
    "{% if message['content'] is string %}{{ message['content'] }}<|im_end|>\n{% else %}"
    "{% for content in message['content'] %}{% if content['type'] == 'image' %}<|vision_bos|><|IMAGE|><|vision_eos|>"
    "{% elif content['type'] == 'audio' %}<|audio_bos|><|AUDIO|><|audio_eos|>"
    "{% elif content['type'] == 'video' %}<|vision_bos|><|VIDEO|><|vision_eos|>"
    "{% elif 'text' in content %}{{ content['text'] }}{% endif %}{% endfor %}<|im_end|>\n{% endif %}{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)
"""The layout of Qwen2.5-Omni's published chat template (default system turn; media blocks by type)."""


def tiny_qwen2_5_omni(folder: Path) -> Path:
    """A Qwen2.5-Omni thinker: 2-layer text model (64 wide), vision tower (patch 14, merge 2) and a
    2-layer audio tower on 128 mel bins; the golden tokenizer with the omni media tokens, a Whisper
    feature extractor, the golden Qwen2-VL image and video processor settings."""
    import torch
    from transformers import (
        AutoTokenizer,
        Qwen2_5OmniProcessor,
        Qwen2_5OmniThinkerConfig,
        Qwen2_5OmniThinkerForConditionalGeneration,
        Qwen2VLImageProcessor,
        Qwen2VLVideoProcessor,
        WhisperFeatureExtractor,
    )

    tokenizer = AutoTokenizer.from_pretrained(GOLDEN_QWEN2VL, extra_special_tokens=OMNI_SPECIAL_TOKENS)
    text = {
        "vocab_size": len(tokenizer),
        "hidden_size": 64,
        "intermediate_size": 128,
        "num_hidden_layers": 2,
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
        "rope_scaling": {"type": "mrope", "mrope_section": [2, 3, 3], "rope_type": "default"},
        "pad_token_id": 500,
        "eos_token_id": 502,
    }
    vision = {"depth": 2, "hidden_size": 32, "intermediate_size": 64, "num_heads": 4, "out_hidden_size": 64}
    vision.update(fullatt_block_indexes=[1], window_size=56, patch_size=14, spatial_merge_size=2, temporal_patch_size=2)
    audio = {"num_mel_bins": 128, "encoder_layers": 2, "encoder_attention_heads": 4, "encoder_ffn_dim": 64}
    audio.update(d_model=32, output_dim=64, n_window=100, max_source_positions=1500)
    ids = {name: tokenizer.convert_tokens_to_ids(token) for name, token in OMNI_SPECIAL_TOKENS.items()}
    config = Qwen2_5OmniThinkerConfig(
        text_config=text,
        vision_config=vision,
        audio_config=audio,
        image_token_index=ids["image_token"],
        audio_token_index=ids["audio_token"],
        video_token_index=ids["video_token"],
        vision_start_token_id=ids["vision_bos_token"],
        vision_end_token_id=ids["vision_eos_token"],
        audio_start_token_id=ids["audio_bos_token"],
        audio_end_token_id=ids["audio_eos_token"],
    )
    torch.manual_seed(0)
    Qwen2_5OmniThinkerForConditionalGeneration(config).save_pretrained(folder)
    processor = Qwen2_5OmniProcessor(
        image_processor=Qwen2VLImageProcessor.from_pretrained(GOLDEN_QWEN2VL),
        video_processor=Qwen2VLVideoProcessor.from_pretrained(GOLDEN_QWEN2VL),
        feature_extractor=WhisperFeatureExtractor(feature_size=128),
        tokenizer=tokenizer,
        chat_template=OMNI_CHAT_TEMPLATE,
    )
    processor.save_pretrained(folder)
    return folder
