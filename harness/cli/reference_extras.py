"""The rest of the reference's ``eval.py`` command line: flags that change nothing here.

The reference parses three dataclasses with ``HfArgumentParser``: its model and data arguments
and Hugging Face ``TrainingArguments``. Its public scripts, and command lines users copied from
its training scripts, carry flags an evaluation does not use (``--output_dir``, ``--report_to
none``, ``--bf16``, LoRA and token-selection knobs). ``eval.py`` here accepts every one of them
with one note line naming it, and still refuses a flag nobody defines, as argparse would.

The flags ``eval.py`` honours (``--dataloader_num_workers``, ``--resize_use_processor`` with
``--image_resolution``, ``--checkpoint_path``, ...) are ordinary arguments of its parser; this
module only knows the ones it may ignore.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

REFERENCE_MODEL_DATA_FLAGS = frozenset(
    {
        "model_type",
        "processor_name",
        "temperature",
        "lora_r",
        "lora_alpha",
        "lora_dropout",
        "lora_target_modules",
        "num_crops",
        "lm_skip_layer",
        "vis_skip_layer",
        "image_decay_factor",
        "dataset_name",
        "subset_name",
        "dataset_split",
        "num_sample_per_subset",
        "image_dir",
        "embedding_type",
        "num_hardneg",
        "local_rank",
    }
)
"""Model and data arguments of the reference that an evaluation here does not use (training-only,
other backbones' knobs, or, for ``local_rank``, what torchrun's environment already says)."""

REFERENCE_FLAG_PREFIXES = ("uigraph_", "uimask_")
"""Families of the reference's token-selection knobs (UI-graph, UI-mask), for other backbones."""


@dataclass(frozen=True)
class IgnoredFlag:
    """A flag of the reference's command line that changes nothing here, with the values it was given."""

    name: str
    values: tuple[str, ...]

    def note(self) -> str:
        """One line saying so."""
        given = f" {' '.join(self.values)}" if self.values else ""
        return f"note: --{self.name}{given}: a flag of the reference's eval.py or TrainingArguments, unused here"


class UnknownFlagError(ValueError):
    """A token of the command line that no parser defines (the message is argparse-like)."""


def ignorable_flags() -> frozenset[str]:
    """Every flag name ``eval.py`` accepts and ignores: the reference's own and HF ``TrainingArguments``'s."""
    from dataclasses import fields

    from transformers import TrainingArguments

    return REFERENCE_MODEL_DATA_FLAGS | {f.name for f in fields(TrainingArguments)}


def split_ignored(tokens: Sequence[str], known: frozenset[str] | None = None) -> list[IgnoredFlag]:
    """The flags among ``tokens`` (what the parser did not know) that may be ignored, each with its
    values (``--flag value ...`` or ``--flag=value``); ``UnknownFlagError`` for anything else.

    Names compare with ``-`` as ``_`` (``--local-rank`` is ``--local_rank``), as HfArgumentParser's.
    """
    names = known if known is not None else ignorable_flags()
    ignored: list[IgnoredFlag] = []
    position = 0
    while position < len(tokens):
        token = tokens[position]
        if not token.startswith("--") or token == "--":
            raise UnknownFlagError(f"unrecognized argument: {token!r} (a value without a flag)")
        name, equals, value = token[2:].partition("=")
        name = name.replace("-", "_")
        if name not in names and not name.startswith(REFERENCE_FLAG_PREFIXES):
            raise UnknownFlagError(f"unrecognized argument: --{name} (neither eval.py's nor TrainingArguments')")
        values = [value] if equals else []
        position += 1
        while not equals and position < len(tokens) and not tokens[position].startswith("--"):
            values.append(tokens[position])
            position += 1
        ignored.append(IgnoredFlag(name, tuple(values)))
    return ignored
