"""The chat text each omni style feeds the model, for every kind of input, against strings derived
from the reference (VLM2Vec main @44f991d).

Derivation (src/model/processor.py, src/data/collator/eval_collator.py):
* ``MultimodalEvalDataCollator._omni_process_batch`` sends queries and candidates alike to
  ``E5Omni_process_fn`` (e5_omni), ``LCOOmni_process_fn`` (lco_omni) or ``NVOmni_process_fn``
  (nvomniembed): the side changes nothing.
* ``NVOmni_process_fn`` builds one user turn: images, then the video, then the audio clip, then the
  text with every ``VLM_IMAGE_TOKENS`` / ``VLM_VIDEO_TOKENS`` value replaced by a space and the
  whitespace collapsed (an empty result is one space); it renders it with the processor's chat
  template, ``add_generation_prompt=False``.
* ``E5Omni_process_fn`` patches ``apply_chat_template``: ``add_generation_prompt=True`` and
  ``"<|endoftext|>"`` appended. ``LCOOmni_process_fn``: ``add_generation_prompt=True`` only.
* The Qwen2.5-Omni chat template writes the default system turn, then ``<|im_start|>user\\n``, each
  image as ``<|vision_bos|><|IMAGE|><|vision_eos|>``, a video as ``<|vision_bos|><|VIDEO|><|vision_eos|>``,
  audio as ``<|audio_bos|><|AUDIO|><|audio_eos|>``, the text, ``<|im_end|>\\n``; the generation prompt
  is ``<|im_start|>assistant\\n``.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from tiny_checkpoints import tiny_qwen2_5_omni

from harness.inputs import AudioRef, EncodeInput
from harness.media.video import sample_video
from harness.models.omni import clean_text
from harness.models.omni.loading import build_processor
from harness.models.omni.prepare import OmniPreparer
from harness.models.omni.settings import OmniSettings

IMAGE = Path(__file__).parent / "data" / "golden" / "media" / "image-tasks" / "synthetic" / "img01_120x90.png"
VIDEO = Path(__file__).parent / "data" / "video" / "MSR-VTT" / "video7004"
SYSTEM = "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\n"
IMAGE_BLOCK = "<|vision_bos|><|IMAGE|><|vision_eos|>"
VIDEO_BLOCK = "<|vision_bos|><|VIDEO|><|vision_eos|>"
AUDIO_BLOCK = "<|audio_bos|><|AUDIO|><|audio_eos|>"
TAILS = {
    "nvomniembed": "<|im_end|>\n",
    "e5_omni": "<|im_end|>\n<|im_start|>assistant\n<|endoftext|>",
    "lco_omni": "<|im_end|>\n<|im_start|>assistant\n",
}
AUDIO = AudioRef(Path("/unused.wav"))  # prompts need no samples: the clip is only said to be kept

# (input, whether its clip is kept, the turn's content between the user header and <|im_end|>)
CASES = {
    "text": (EncodeInput(text="Find  the\nred square"), False, "Find the red square"),
    "image": (
        EncodeInput(text="<|image|> Represent the given image.", image=IMAGE),
        False,
        f"{IMAGE_BLOCK}Represent the given image.",
    ),
    "video": (
        EncodeInput(text="<|video|> Understand the content of the provided video.", video=None),
        False,
        f"{VIDEO_BLOCK}Understand the content of the provided video.",
    ),
    "audio": (
        EncodeInput(text="Recognize the environmental sound category of the audio.", audio=AUDIO),
        True,
        f"{AUDIO_BLOCK}Recognize the environmental sound category of the audio.",
    ),
    "image+audio": (
        EncodeInput(text="<|image|>  caption", image=IMAGE, audio=AUDIO),
        True,
        f"{IMAGE_BLOCK}{AUDIO_BLOCK}caption",
    ),
    "video+audio, no text": (
        EncodeInput(text="<|video|>", video=None, audio=AUDIO),
        True,
        f"{VIDEO_BLOCK}{AUDIO_BLOCK} ",
    ),
}


@pytest.fixture(scope="module")
def processor(tmp_path_factory):
    return build_processor(OmniSettings(pretrained=str(tiny_qwen2_5_omni(tmp_path_factory.mktemp("omni")))))


@pytest.fixture(scope="module")
def video():
    return sample_video(VIDEO, 4)


@pytest.mark.parametrize("style", list(TAILS))
@pytest.mark.parametrize("case", list(CASES))
def test_the_chat_text_of_each_input_kind_is_the_reference_string(processor, video, style, case):
    item, kept, content = CASES[case]
    if "video" in case:
        item = EncodeInput(text=item.text, video=video, audio=item.audio)
    settings = OmniSettings(pretrained="unused", style=style)
    preparer = OmniPreparer(processor, settings.rules(), min_pixels=3136, max_pixels=1003520, max_text_tokens=2048)

    assert preparer.prompt(item, kept) == SYSTEM + content + TAILS[style]


def test_a_clip_under_the_minimum_leaves_no_audio_block(processor):
    preparer = OmniPreparer(
        processor, OmniSettings(pretrained="unused").rules(), min_pixels=3136, max_pixels=1003520, max_text_tokens=2048
    )

    assert preparer.prompt(EncodeInput(text="Recognize.", audio=AUDIO), False) == SYSTEM + "Recognize.<|im_end|>\n"


def test_the_reference_strips_every_backbones_image_and_video_tokens_from_the_text():
    # _strip_special_tokens: the VLM_IMAGE_TOKENS / VLM_VIDEO_TOKENS values (Phi-3-V <|image_1|>,
    # LLaVA <image>, Qwen <|image_pad|> / <|video_pad|>, WAVE <|IMAGE|> / <|VIDEO|>); not audio tokens.
    text = "<|image_1|>a<image>b <|image_pad|>c<|IMAGE|>d<|video_pad|>e<|VIDEO|>f <|AUDIO|>"

    assert clean_text(text) == "a b c d e f <|AUDIO|>"
