"""The omni adapter on a tiny random Qwen2.5-Omni thinker: prompts, pooling, attention, audio, batching."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile
import torch
from tiny_checkpoints import GOLDEN_QWEN2VL, tiny_qwen2_5_omni

from harness.errors import MediaError, ModelError
from harness.inputs import AudioRef, EncodeInput
from harness.media.video import sample_video
from harness.models import create_encoder
from harness.models.base import accepts_audio
from harness.models.omni import chat_document, render_prompt
from harness.models.omni.styles import STYLES

IMAGES = Path(__file__).parent / "data" / "golden" / "media" / "image-tasks" / "synthetic"
VIDEO = Path(__file__).parent / "data" / "video" / "MSR-VTT" / "video7004"
SYSTEM = "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n"


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory) -> Path:
    return tiny_qwen2_5_omni(tmp_path_factory.mktemp("omni"))


@pytest.fixture(scope="module")
def wav(tmp_path_factory) -> Path:
    """Three seconds of 44.1 kHz stereo (a different tone per channel)."""
    path = tmp_path_factory.mktemp("audio") / "tones.wav"
    t = np.arange(44100 * 3) / 44100
    soundfile.write(path, np.stack([np.sin(2 * np.pi * 440 * t), 0.5 * np.sin(2 * np.pi * 97 * t)], 1), 44100)
    return path


@pytest.fixture(scope="module")
def encoders(checkpoint):
    return {style: create_encoder("omni", {"pretrained": str(checkpoint), "style": style}, "cpu") for style in STYLES}


def mixed_inputs(wav: Path) -> list[EncodeInput]:
    return [
        EncodeInput(text="Find the red square"),
        EncodeInput(text="<|image|>\nRepresent the given image.", image=IMAGES / "img01_120x90.png"),
        EncodeInput(text="<|audio|> Recognize the sound.", audio=AudioRef(wav)),
        EncodeInput(text="<|video|> Understand the video.", video=sample_video(VIDEO, 4)),
        EncodeInput(text="<|image|> a tall one", image=IMAGES / "img09_100x300.png", audio=AudioRef(wav)),
    ]


@pytest.mark.parametrize(
    ("style", "tail"),
    [
        ("nvomniembed", ""),
        ("e5_omni", "<|im_start|>assistant\n<|endoftext|>"),
        ("lco_omni", "<|im_start|>assistant\n"),
    ],
)
def test_chat_prompt_of_each_style_is_the_reference_string(encoders, style, tail):
    # The reference: user turn [image, video, audio, text]; markers stripped, whitespace collapsed;
    # add_generation_prompt per style; e5-omni appends <|endoftext|>.
    document = chat_document("<|image|>\n Represent  the\tgiven <|audio|>image.", image=True, video=False, audio=True)

    prompt = render_prompt(encoders[style].processor, document, STYLES[style])

    assert prompt == (
        f"{SYSTEM}<|im_start|>user\n<|vision_bos|><|IMAGE|><|vision_eos|><|audio_bos|><|AUDIO|><|audio_eos|>"
        f"Represent the given image.<|im_end|>\n{tail}"
    )


def test_an_empty_text_becomes_one_space_after_the_media(encoders):
    document = chat_document("<|video|>", image=False, video=True, audio=False)

    prompt = render_prompt(encoders["lco_omni"].processor, document, STYLES["lco_omni"])

    assert (
        prompt == f"{SYSTEM}<|im_start|>user\n<|vision_bos|><|VIDEO|><|vision_eos|> <|im_end|>\n<|im_start|>assistant\n"
    )


@pytest.mark.parametrize("style", list(STYLES))
def test_embeddings_are_finite_normalised_and_independent_of_the_batch(encoders, wav, style):
    encoder = encoders[style]
    inputs = mixed_inputs(wav)

    together = encoder.encode(inputs, "query")
    alone = np.concatenate([encoder.encode([item], "query") for item in inputs])

    assert together.shape == (5, 64) and together.dtype == np.float32
    assert np.isfinite(together).all()
    np.testing.assert_allclose(np.linalg.norm(together, axis=1), 1.0, atol=1e-5)
    assert (np.sum(together * alone, axis=1) >= 0.9999).all()


@pytest.mark.parametrize("style", list(STYLES))
def test_sequence_lengths_are_the_prepared_token_counts(encoders, wav, style):
    preparer = encoders[style].preparer()
    inputs = mixed_inputs(wav)

    prepared = preparer.prepare(inputs, "query")

    assert preparer.sequence_lengths(inputs) == prepared["attention_mask"].sum(-1).tolist()


def _hidden(encoder, batch, bidirectional: bool):
    """The thinker's last hidden layer from its own full forward (``output_hidden_states``)."""
    thinker = encoder.model
    layers = thinker.model.language_model.layers
    saved = [layer.self_attn.is_causal for layer in layers]
    try:
        extra = {}
        for layer in layers:
            layer.self_attn.is_causal = not bidirectional
        if bidirectional:  # one unpadded input: attending both ways is no mask at all
            extra["position_ids"] = thinker.model.get_rope_index(
                batch["input_ids"], batch.get("image_grid_thw"), None, batch["attention_mask"]
            )[0]
            extra["attention_mask"] = {"full_attention": None}
        with torch.no_grad():
            return thinker(**{**batch, **extra}, output_hidden_states=True).hidden_states[-1][0]
    finally:
        for layer, causal in zip(layers, saved, strict=True):
            layer.self_attn.is_causal = causal


def test_pooling_matches_a_hand_computation_from_the_hidden_states(encoders, checkpoint):
    item = EncodeInput(text="<|image|> Represent the given image.", image=IMAGES / "img01_120x90.png")
    nv, lco = encoders["nvomniembed"], encoders["lco_omni"]
    nv_batch, lco_batch = nv.preparer().prepare([item], "query"), lco.preparer().prepare([item], "query")

    mean = torch.nn.functional.normalize(_hidden(nv, nv_batch, bidirectional=True).mean(0), dim=0).numpy()
    last = torch.nn.functional.normalize(_hidden(lco, lco_batch, bidirectional=False)[-1], dim=0).numpy()

    np.testing.assert_allclose(nv.encode([item], "query")[0], mean, atol=1e-5)
    np.testing.assert_allclose(lco.encode([item], "query")[0], last, atol=1e-5)
    causal_mean = create_encoder("omni", {"pretrained": str(checkpoint), "attention": "causal"}, "cpu")
    last_of_nv = create_encoder("omni", {"pretrained": str(checkpoint), "pooling": "last"}, "cpu")
    assert np.abs(causal_mean.encode([item], "query")[0] - mean).max() > 1e-3
    assert np.abs(last_of_nv.encode([item], "query")[0] - mean).max() > 1e-3


def test_audio_is_accepted_and_changes_the_embedding(encoders, wav):
    encoder = encoders["nvomniembed"]
    text = EncodeInput(text="<|audio|> Recognize the sound.")

    with_audio = encoder.encode([EncodeInput(text=text.text, audio=AudioRef(wav))], "query")[0]
    without = encoder.encode([text], "query")[0]

    assert accepts_audio(encoder)
    prepared = encoder.preparer().prepare([EncodeInput(text=text.text, audio=AudioRef(wav))], "query")
    assert prepared["input_features"].shape[:2] == (1, 128)
    assert int(prepared["feature_attention_mask"].sum()) == 300  # 3 s at 16 kHz, 160-sample hops
    assert float(with_audio @ without) < 0.999


def test_a_clip_under_the_minimum_is_encoded_without_audio(encoders, tmp_path):
    short = tmp_path / "blip.wav"
    soundfile.write(short, np.ones(100, dtype=np.float32) * 0.1, 16000)  # 6 ms < 25 ms
    encoder = encoders["e5_omni"]

    ours = encoder.encode([EncodeInput(text="<|audio|> sound", audio=AudioRef(short))], "query")

    np.testing.assert_allclose(ours, encoder.encode([EncodeInput(text="sound")], "query"), atol=1e-6)


def test_bad_inputs_are_one_line_errors(encoders, tmp_path):
    encoder = encoders["lco_omni"]
    both = EncodeInput(text="x", image=IMAGES / "img01_120x90.png", video=sample_video(VIDEO, 2))
    missing = EncodeInput(text="x", audio=AudioRef(tmp_path / "nope.wav"))
    other_rate = EncodeInput(text="x", audio=AudioRef(tmp_path / "nope.wav", sample_rate=8000))

    for item, error in ((both, ModelError), (missing, MediaError), (other_rate, ModelError)):
        with pytest.raises(error) as raised:
            encoder.encode([item], "query")
        assert "\n" not in str(raised.value)
    with pytest.raises(ModelError, match="model_arg 'style' for omni"):
        create_encoder("omni", {"style": "wave"}, "cpu")


def test_an_nvomniembed_checkpoint_loads_without_its_remote_code(checkpoint, tmp_path):
    folder = tmp_path / "nemotron"
    shutil.copytree(checkpoint, folder)
    config = json.loads((folder / "config.json").read_text())
    config.update(model_type="nvomniembed", auto_map={"AutoModel": "modeling.NVOmniEmbedModel"})
    (folder / "config.json").write_text(json.dumps(config))

    encoder = create_encoder("omni", {"pretrained": str(folder)}, "cpu")

    assert encoder.metadata().details == {"attention": "bidirectional", "checkpoint_model_type": "nvomniembed"}
    assert encoder.metadata().pooling == "mean over the attention mask"


def test_a_checkpoint_of_another_type_lists_the_supported_ones():
    with pytest.raises(
        ModelError, match=r"omni adapter does not support \(supported: qwen2_5_omni_thinker, nvomniembed\)"
    ):
        create_encoder("omni", {"pretrained": str(GOLDEN_QWEN2VL)}, "cpu")


def test_only_the_omni_adapter_takes_audio(encoders):
    vlm2vec = create_encoder("vlm2vec", {"pretrained": str(GOLDEN_QWEN2VL)}, "cpu")

    assert accepts_audio(encoders["e5_omni"]) and not accepts_audio(vlm2vec)
