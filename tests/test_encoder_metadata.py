"""An encoder describes itself with an ``EncoderMetadata``: typed, versioned, written as reported.

Every built-in adapter's record validates and reads back from JSON unchanged, with the keys the
run file has always held; a plugin's plain dict is converted in one place, its own keys kept
under ``details``, a value of the wrong type a one-line error naming adapter and key.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel, ValidationError
from tiny_checkpoints import (
    GOLDEN_QWEN2VL,
    tiny_bert,
    tiny_clip,
    tiny_colpali,
    tiny_colqwen2,
    tiny_qwen2_5_omni,
    tiny_siglip,
)

from harness.errors import ModelError
from harness.models import (
    CheckpointFacts,
    EncoderMetadata,
    LoraFacts,
    create_encoder,
    encoder_metadata,
    metadata_from_dict,
)

COMMON_KEYS = {
    *("format_version", "adapter", "model_class", "model_type", "resolved_revision", "num_parameters"),
    *("embedding_dim", "dtype", "device", "device_name", "attn_implementation", "torch_version"),
    *("transformers_version", "pretrained", "revision", "settings", "checkpoint", "similarity"),
}
"""What every built-in adapter records."""


TINY_QWEN_ARGS = {"max_pixels": 50176}


def golden_qwen2vl(folder: Path) -> Path:
    return GOLDEN_QWEN2VL


ADAPTERS: dict[str, tuple[Callable[[Path], Path], dict[str, Any], set[str]]] = {
    # adapter: (checkpoint builder, model args, keys it records besides COMMON_KEYS)
    "vlm2vec": (golden_qwen2vl, TINY_QWEN_ARGS, {"backbone", "pooling", "image_backend", "positions"}),
    "gme": (golden_qwen2vl, TINY_QWEN_ARGS, {"backbone", "pooling", "prompt", "video", "image_backend", "positions"}),
    "clip": (tiny_clip, {}, {"pooling", "fusion", "video", "max_length", "image_processor"}),
    "siglip": (tiny_siglip, {}, {"pooling", "fusion", "video", "max_length", "image_processor"}),
    "text_encoder": (tiny_bert, {}, {"pooling"}),
    "colqwen2": (tiny_colqwen2, {}, {"query_prefix", "visual_prompt_prefix", "text_beside_images"}),
    "colpali": (tiny_colpali, {}, {"query_prefix", "visual_prompt_prefix", "text_beside_images"}),
    "omni": (
        tiny_qwen2_5_omni,
        {},
        {"backbone", "pooling", "prompt", "video", "image_backend", "positions", "details"},
    ),
}


@pytest.fixture(scope="module", params=sorted(ADAPTERS))
def built_in(request, tmp_path_factory) -> tuple[str, EncoderMetadata]:
    """A built-in adapter's name and its metadata, on a tiny checkpoint."""
    build, args, _ = ADAPTERS[request.param]
    checkpoint = build(tmp_path_factory.mktemp(request.param))
    encoder = create_encoder(request.param, {"pretrained": str(checkpoint), **args}, "cpu")
    return request.param, encoder_metadata(encoder)


class DictReporting:
    """A plugin encoder that reports its metadata as a plain dict (the interface before EncoderMetadata)."""

    def __init__(self, reported: Any) -> None:
        self.reported = reported

    def encode(self, inputs: Any, side: Any) -> Any:
        raise NotImplementedError

    def metadata(self) -> Any:
        return self.reported


# --- built-in adapters ---------------------------------------------------------------------------


def test_every_built_in_adapter_returns_a_record_naming_itself(built_in):
    name, record = built_in

    assert isinstance(record, EncoderMetadata) and record.adapter == name and record.format_version == 1


def test_every_built_in_adapters_record_reads_back_from_json_unchanged(built_in):
    _, record = built_in
    written = record.model_dump_json()

    again = EncoderMetadata.model_validate_json(written)

    assert again == record and again.model_dump_json() == written


def test_every_built_in_adapter_records_the_keys_the_run_file_has_always_held(built_in):
    name, record = built_in

    assert set(record.model_dump(mode="json")) == COMMON_KEYS | ADAPTERS[name][2]


# --- what is written -----------------------------------------------------------------------------


def test_a_reported_null_is_written_and_an_unreported_fact_is_not():
    record = EncoderMetadata(adapter="x", revision=None)

    assert record.model_dump(mode="json") == {"format_version": 1, "adapter": "x", "revision": None}


def test_the_format_version_is_written_even_when_not_given():
    assert EncoderMetadata().model_dump(mode="json") == {"format_version": 1}


def test_a_record_without_a_format_version_reads_as_version_1():
    assert EncoderMetadata.model_validate({"adapter": "vlm2vec"}).format_version == 1


def test_a_record_of_another_format_version_is_refused():
    with pytest.raises(ValidationError, match="format_version"):
        EncoderMetadata.model_validate({"format_version": 2})


def test_a_hub_checkpoint_that_is_no_adapter_has_empty_checkpoint_facts():
    record = EncoderMetadata(checkpoint=CheckpointFacts())

    assert record.model_dump(mode="json")["checkpoint"] == {}


def test_merged_lora_facts_are_written_as_adapter_config_gives_them():
    lora = {"adapter": "a", "base_model": "b", "peft_type": "LORA", "r": 4, "lora_alpha": 8, "use_rslora": None}
    record = EncoderMetadata(checkpoint=CheckpointFacts(local_path="/x", lora=LoraFacts.model_validate(lora)))

    assert json.loads(record.model_dump_json())["checkpoint"] == {"local_path": "/x", "lora": lora}


def test_a_record_inside_another_model_is_written_the_same():
    class RunModel(BaseModel):
        adapter_metadata: EncoderMetadata

    record = EncoderMetadata(adapter="x", revision=None)

    assert RunModel(adapter_metadata=record).model_dump(mode="json")["adapter_metadata"] == record.model_dump(
        mode="json"
    )


def test_building_a_record_with_an_unknown_key_is_refused():
    with pytest.raises(ValidationError, match="poolin"):
        EncoderMetadata.model_validate({"poolin": "eos"})


@pytest.mark.parametrize("model", [EncoderMetadata, CheckpointFacts, LoraFacts])
def test_every_field_is_documented(model):
    undocumented = [name for name, field in model.model_fields.items() if not field.description]

    assert undocumented == []


# --- plugins reporting a dict --------------------------------------------------------------------


def test_a_record_is_taken_as_it_is():
    record = EncoderMetadata(adapter="toy")

    assert encoder_metadata(DictReporting(record)) is record


def test_a_plugin_dict_is_converted_with_its_named_keys_typed():
    reported = {"adapter": "toy", "embedding_dim": 26, "num_parameters": 0, "dtype": "float32"}

    record = encoder_metadata(DictReporting(reported))

    assert isinstance(record, EncoderMetadata) and record.embedding_dim == 26 and record.details == {}
    assert record.model_dump(mode="json") == {"format_version": 1, **reported}


def test_a_plugin_dicts_own_keys_are_kept_under_details():
    record = encoder_metadata(DictReporting({"adapter": "toy", "alphabet": "a-z", "scale": [1, 2]}))

    assert record.details == {"alphabet": "a-z", "scale": [1, 2]}
    assert record.model_dump(mode="json")["details"] == {"alphabet": "a-z", "scale": [1, 2]}


def test_a_plugin_value_of_the_wrong_type_is_a_one_line_error_naming_adapter_and_key():
    with pytest.raises(ModelError) as error:
        encoder_metadata(DictReporting({"adapter": "toy", "num_parameters": "many"}))

    message = str(error.value)
    assert message.startswith("adapter 'toy' (DictReporting.metadata()): metadata key 'num_parameters': ")
    assert "'many'" in message and "\n" not in message


def test_a_plugin_dict_without_an_adapter_name_is_named_by_its_encoder_class():
    with pytest.raises(ModelError, match=r"^DictReporting.metadata\(\): metadata key 'embedding_dim'"):
        encoder_metadata(DictReporting({"embedding_dim": 2.5}))


def test_a_plugin_key_given_both_at_the_top_and_in_details_is_refused():
    with pytest.raises(ModelError, match="metadata key 'alphabet' is given both as a key and in 'details'"):
        metadata_from_dict({"alphabet": "a-z", "details": {"alphabet": "A-Z"}}, source="test")


def test_metadata_that_is_neither_a_record_nor_a_dict_is_an_error():
    with pytest.raises(ModelError, match=r"DictReporting.metadata\(\) returned a list, not an EncoderMetadata"):
        encoder_metadata(DictReporting(["adapter", "toy"]))
