"""eval.py takes the reference's MMEB-V3 eval YAMLs and omni backbones.

The configs are built here from the keys and values of VLM2Vec main @44f991d's
``experiments/public/eval/{text,tool,memory,audio,gui,image}.yaml`` (the entries' names, their keys
and the path pattern of each family, as read there; the files are not copied).
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import soundfile as sf
import yaml
from tiny_checkpoints import tiny_qwen2_5_omni

from harness.cli.reference_compat import main, max_len_model_args, pooling_model_args
from harness.cli.reference_entries import load_dataset_config
from harness.cli.reference_v3_keys import REFERENCE_KEY_TASKS, task_name_for_key
from harness.data import load_task_data
from harness.errors import HarnessError, ModelError
from harness.models import adapter_for_backbone, backbone_model_args
from harness.taskspec import Selection, TaskIndex
from harness.taskspec.run_overrides import with_audio_max_seconds

TEXT_SUBSETS = {  # text.yaml: key text/<family>/<name>, subset_name <family>/<name>, data_path text-tasks
    "BRIGHT": "aops biology earth_science economics leetcode pony psychology robotics stackoverflow "
    "sustainable_living theoremqa_questions theoremqa_theorems",
    "FollowIR": "core17-instructions news21-instructions robust04-instructions",
    "InfoSearch": "Audience-v1 Clarity-v1 Format-v1 Language-v1 Length-v1 Source-v1",
    "LongEmbed": "2wikimqa narrativeqa needle passkey qmsum summ_screen_fd",
    "MultiConIR": "Books|Legal Document|Medical Case|Movies|People",
    "NanoBEIR": "NanoArguAna NanoClimateFEVER NanoDBPedia NanoFEVER NanoFiQA2018 NanoHotpotQA NanoMSMARCO "
    "NanoNFCorpus NanoNQ NanoQuoraRetrieval NanoSCIDOCS NanoSciFact NanoTouche2020",
    "R2MED": "Bioinformatics Biology IIYi-Clinical MedQA-Diag MedXpertQA-Exam Medical-Sciences "
    "PMC-Clinical PMC-Treatment",
}
TEXT_FILES = {  # (query_file, candidate_file, qrels_file) under text-tasks/, {n} = the subset's name
    "BRIGHT": ("BRIGHT/examples/{n}-00000-of-00001.parquet", "BRIGHT/documents/{n}-00000-of-00001.parquet", None),
    "FollowIR": ("FollowIR/{n}/queries.jsonl", "FollowIR/{n}/corpus.jsonl", "FollowIR/{n}/qrels_og/test.jsonl"),
    "InfoSearch": ("InfoSearch/{n}/queries.jsonl", "InfoSearch/{n}/corpus.jsonl", "InfoSearch/{n}/qrels_og/test.jsonl"),
    "LongEmbed": ("LongEmbed/{n}/queries.jsonl", "LongEmbed/{n}/corpus.jsonl", "LongEmbed/{n}/qrels.jsonl"),
    "MultiConIR": (
        "MultiConIR_v2/{n}/queries.jsonl",
        "MultiConIR_v2/{n}/corpus.jsonl",
        "MultiConIR_v2/{n}/qrels.jsonl",
    ),
    "NanoBEIR": tuple(f"NanoBEIR/{{n}}/{t}/train-00000-of-00001.parquet" for t in ("queries", "corpus", "qrels")),
    "R2MED": ("R2MED/{n}/query.jsonl", "R2MED/{n}/corpus.jsonl", "R2MED/{n}/qrels.jsonl"),
}
TOOL_SUBSETS = {  # tool.yaml: key toolde/<cat>/<name>, one candidate pool per category
    "web": "apibank apigen mnms reversechain rotbench t-eval-dialog t-eval-step taskbench-daily toolace toolbench "
    "toolemu tooleyes toollens ultratool autotools-food autotools-music autotools-weather restgpt-spotify restgpt-tmdb",
    "code": "craft-math-algebra craft-tabmwp craft-vqa gorilla-huggingface gorilla-pytorch gorilla-tensor toolink",
    "customized": "appbench gpt4tools gta taskbench-huggingface taskbench-multimedia metatool tool-be-honest "
    "toolalpaca toolbench-sam",
}
MEMORY = {"KnowMeBench": "Episodic", "REALTALK": "Dialogue", "PeerQA": "Semantic", "DeepPlanning": "Procedural"}
AUDIO = {  # audio.yaml: key -> (dataset_parser, dataset_split, audio_root under audio-tasks/, eval_type)
    "NSynth": ("audio_cls", "test", "nsynth-1k", "local"),
    "ESC-50": ("audio_cls", "test", "esc50", "local"),
    "UrbanSound8K": ("audio_cls", "test", "urbansound8k", "local"),
    "SpeechCommands": ("audio_cls", "test", "speechcommand-1k", "local"),
    "CREMA-D": ("audio_cls", "test", "creamD", "local"),
    "SoundDescs": ("sounddescs_text_audio", "test", "sounddescs-1k", "local"),
    "Clotho": ("clotho_text_audio", "test", "clotho", "global"),
    "AVE": ("ave_retrieval", "test", "AVE/AVE_Dataset/audios", "local"),
    "SpeechCOCO": ("audio_ret_speechcoco", "validation", "speechcoco-1k", "global"),
    "TUTSound": ("tutsound_audio_gnd", "test", "tutsound", "local"),
    "TUTSound(hard)": ("tutsound_audio_gnd_hard", "test", "tutsound", "local"),
}
GUI = [f"GAE-{source}_{split}" for source in ("GUIAct", "Mind2Web") for split in ("q2t", "q2s", "s2s", "t2s")]


def text_entries() -> dict[str, dict[str, Any]]:
    entries = {}
    for family, names in TEXT_SUBSETS.items():
        for name in names.split("|" if "|" in names else None):
            files = [f"text-tasks/{p.format(n=name)}" if p else None for p in TEXT_FILES[family]]
            entry = {"dataset_parser": "complex_text_retrieve", "data_path": "text-tasks"}
            entry |= {"subset_name": f"{family}/{name}", "eval_type": "global"}
            entry |= {"query_file": files[0], "candidate_file": files[1]}
            entries[f"text/{family}/{name}"] = entry | ({"qrels_file": files[2]} if files[2] else {})
    return entries


def tool_entries() -> dict[str, dict[str, Any]]:
    return {
        f"toolde/{cat}/{name}": {
            "dataset_parser": "toolde",
            "subset_name": f"{cat}/{name}",
            "query_file": f"tool-tasks/ToolDe-Queries/{cat}/{name}/queries-00000-of-00001.parquet",
            "candidate_file": f"tool-tasks/ToolDe-Candidates/{cat}/tools-00000-of-00001.parquet",
            "eval_type": "global",
        }
        for cat, names in TOOL_SUBSETS.items()
        for name in names.split()
    }


def memory_entries() -> dict[str, dict[str, Any]]:
    return {
        f"memory/{name}": {
            "dataset_parser": "memory_retrieval",
            "dataset_name": name,
            "data_path": f"memory-tasks/{category}/{name}",
            "eval_type": "global",
        }
        for name, category in MEMORY.items()
    }


def audio_entries() -> dict[str, dict[str, Any]]:
    entries = {}
    for key, (parser, split, root, eval_type) in AUDIO.items():
        entry = {"dataset_parser": parser, "dataset_name": key, "dataset_split": split}
        entries[key] = entry | {"audio_root": f"audio-tasks/{root}", "eval_type": eval_type}
    entries["AVE"] |= {
        "video_root": "audio-tasks/AVE/AVE_Dataset/AVE",
        "frame_root": "audio-tasks/AVE/AVE_Dataset/frames",
        "num_frames": 8,
    }
    return entries


def gui_entries() -> dict[str, dict[str, Any]]:
    return {
        key: {
            "dataset_parser": "gui",
            "dataset_name": key,
            "dataset_split": key.rsplit("_", 1)[1],
            "image_root": f"gui-tasks/{key.split('-')[1].split('_')[0]}/",
            "eval_type": "global",
        }
        for key in GUI
    }


MCMR = {
    "dataset_parser": "mcmr",
    "dataset_name": "MCMR",
    "subset_name": "MCMR",
    "query_file": "image-tasks/MCMR/query.jsonl",
    "candidate_file": "image-tasks/MCMR/candidates.jsonl",
    "image_root": "image-tasks/MCMR/images",
    "query_instruction": "Find an image-text pair that matches the given query",
    "eval_type": "global",
}


def all_entries() -> dict[str, dict[str, Any]]:
    return {**text_entries(), **tool_entries(), **memory_entries(), **audio_entries(), **gui_entries(), "MCMR": MCMR}


def write_config(tmp_path: Path, entries: dict[str, dict[str, Any]], name: str = "eval.yaml") -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(entries, sort_keys=False))
    return path


def test_the_built_config_has_every_v3_entry_of_the_reference():
    counts = {"text": 53, "tool": 35, "memory": 4, "audio": 11, "gui": 8}
    built = {"text": text_entries(), "tool": tool_entries(), "memory": memory_entries()}
    built |= {"audio": audio_entries(), "gui": gui_entries()}
    assert {name: len(entries) for name, entries in built.items()} == counts


def test_every_v3_entry_runs_its_task_unchanged(tmp_path, capsys):
    entries = all_entries()
    index = TaskIndex()

    tasks = load_dataset_config(write_config(tmp_path, entries), index).tasks

    assert [t.spec.task for t in tasks] == [task_name_for_key(key) for key in entries]
    assert len(tasks) == 53 + 35 + 4 + 11 + 1 + 8
    for task in tasks:
        # query_file / candidate_file / qrels_file / audio_root / data_path name what the task reads
        expected = index.tasks[task.spec.task].spec.model_dump(mode="json")
        assert task.spec.model_dump(mode="json") == {**expected, "num_rows": None}, task.spec.task
    notes = capsys.readouterr().err.splitlines()
    where = f"note: {tmp_path / 'eval.yaml'}"
    assert sorted(notes) == sorted(
        [
            f"{where}: data_path is not used (the parser searches it only for the tables an "
            "entry does not name; the task reads its own): text/BRIGHT/aops, text/BRIGHT/biology, "
            "text/BRIGHT/earth_science and 50 more",
            f"{where}: TUTSound(hard): runs task 'TUTSound-hard'; its files are named TUTSound-hard_* "
            "(the reference's TUTSound(hard)_*)",
            f"{where}: video_root is not used (raw videos; frames are read from frame_root, never extracted): AVE",
            f"{where}: frame_root is not used (the task file names its frame folders): AVE",
        ]
    )


def test_an_ave_frame_root_other_than_the_tasks_own_is_refused(tmp_path):
    entry = {**all_entries()["AVE"], "frame_root": "elsewhere/frames"}

    with pytest.raises(HarnessError) as caught:
        load_dataset_config(write_config(tmp_path, {"AVE": entry}), TaskIndex())

    assert str(caught.value).endswith(
        "AVE: frame_root: task 'AVE' reads its frame folders under 'audio-tasks/AVE/AVE_Dataset/frames', "
        "got 'elsewhere/frames' (put or link the frames there)"
    )


def test_the_reference_key_tutsound_hard_is_the_task_tutsound_hard():
    assert REFERENCE_KEY_TASKS == {"TUTSound(hard)": "TUTSound-hard"}
    assert task_name_for_key("TUTSound(hard)") == "TUTSound-hard"
    assert task_name_for_key("TUTSound") == "TUTSound" and task_name_for_key("text/BRIGHT/aops") == "text/BRIGHT/aops"


def test_the_tutsound_hard_entry_runs_a_task_of_that_name(tmp_path, capsys):
    path = write_config(tmp_path, {"TUTSound(hard)": audio_entries()["TUTSound(hard)"]})

    (task,) = load_dataset_config(path, TaskIndex()).tasks

    assert task.spec.task == "TUTSound-hard"
    assert "runs task 'TUTSound-hard'; its files are named TUTSound-hard_*" in capsys.readouterr().err


def _one(tmp_path: Path, key: str, **changes: Any):
    entry = {**all_entries()[key], **changes}
    (task,) = load_dataset_config(write_config(tmp_path, {key: entry}), TaskIndex()).tasks
    return task.spec


def test_another_query_or_qrels_file_is_read_instead(tmp_path):
    spec = _one(
        tmp_path,
        "text/LongEmbed/needle",
        query_file="my/needle/q.jsonl",
        qrels_file="my/needle/qrels.jsonl",
    )

    assert spec.dataset.files == ["my/needle/q.jsonl"] and spec.dataset.path is None
    assert spec.relevance.dataset.files == ["my/needle/qrels.jsonl"]
    assert spec.candidates.corpus.files == ["text-tasks/LongEmbed/needle/corpus.jsonl"]


def test_a_qrels_file_for_a_task_without_qrels_is_an_error(tmp_path):
    with pytest.raises(HarnessError, match=r"qrels_file: task 'text/BRIGHT/aops' reads no qrels table"):
        _one(tmp_path, "text/BRIGHT/aops", qrels_file="text-tasks/BRIGHT/qrels.jsonl")


def test_a_subset_name_of_another_task_is_an_error(tmp_path):
    with pytest.raises(HarnessError, match=r"subset_name 'web/apigen' is not the subset of task 'toolde/web/apibank'"):
        _one(tmp_path, "toolde/web/apibank", subset_name="web/apigen")


def test_an_mcmr_instruction_the_task_does_not_write_is_an_error(tmp_path):
    assert _one(tmp_path, "MCMR").media_root == "image-tasks/MCMR/images/"
    with pytest.raises(HarnessError, match=r"query_instruction 'Find a product' is not the instruction of task 'MCMR'"):
        _one(tmp_path, "MCMR", query_instruction="Find a product")


def test_another_audio_root_moves_the_clips_and_the_tables_under_it(tmp_path):
    spec = _one(tmp_path, "ESC-50", audio_root="mine/esc")

    assert spec.media_root == "mine/esc/"
    assert spec.dataset.files == ["mine/esc/*.parquet", "mine/esc/data/*.parquet"]
    assert spec.candidates.corpus.files == ["mine/esc/*.parquet", "mine/esc/data/*.parquet"]


def test_audio_classification_local_is_the_tasks_global_ranking_but_other_mismatches_are_errors(tmp_path):
    assert _one(tmp_path, "ESC-50").ranking == "global"  # every query's cand_names: all class names
    with pytest.raises(HarnessError, match=r"eval_type 'local' differs from task 'SpeechCOCO' ranking 'global'"):
        _one(tmp_path, "SpeechCOCO", eval_type="local")


def test_a_memory_folder_elsewhere_is_searched_instead(tmp_path):
    spec = _one(tmp_path, "memory/PeerQA", data_path="my-memory/PeerQA")

    roots = {spec.dataset.discover.root, spec.candidates.corpus.discover.root, spec.relevance.dataset.discover.root}
    assert roots == {"my-memory/PeerQA"}


def test_v3_keys_on_a_v2_entry_and_unknown_keys_are_named(tmp_path):
    v2 = {"dataset_parser": "image_cls", "dataset_name": "ImageNet-1K", "eval_type": "local"}
    with pytest.raises(HarnessError, match=r"ImageNet-1K: \['query_file'\] are keys of the reference's V3 parsers"):
        load_dataset_config(write_config(tmp_path, {"ImageNet-1K": {**v2, "query_file": "q.jsonl"}}), TaskIndex())
    with pytest.raises(HarnessError, match=r"toolde/web/apibank: unsupported keys \['query_mod'\]"):
        _one(tmp_path, "toolde/web/apibank", query_mod=["T"])


# --- backbones, pooling and --audio_max_seconds -------------------------------------------------


@pytest.mark.parametrize("backbone", ["nvomniembed", "e5_omni", "lco_omni"])
def test_the_omni_backbones_are_the_omni_adapter_with_their_style(backbone):
    assert adapter_for_backbone(backbone) == "omni"
    assert backbone_model_args(backbone) == {"style": backbone}


@pytest.mark.parametrize(
    ("backbone", "reason"), [("wave", "BEATs audio branch"), ("qwen3_vl", "no Qwen3-VL-Embedding adapter")]
)
def test_backbones_without_an_adapter_are_refused_in_one_line_naming_them(backbone, reason):
    with pytest.raises(ModelError) as caught:
        adapter_for_backbone(backbone)

    message = str(caught.value)
    assert message.startswith(f"--model_backbone {backbone} is not supported: ") and reason in message
    assert "\n" not in message


def test_pooling_is_the_reference_flag_for_omni_and_the_default_is_its_last_token(capsys):
    assert pooling_model_args("omni", "mean") == {"pooling": "mean"}
    assert pooling_model_args("omni", "eos") == pooling_model_args("omni", "last_token") == {"pooling": "last"}
    assert pooling_model_args("omni", None) == {"pooling": "last"}
    assert "--pooling not given: last token, the reference's default" in capsys.readouterr().err
    assert pooling_model_args("vlm2vec", None) == {"pooling": "eos"}
    with pytest.raises(HarnessError, match="--pooling cls is not supported by the omni backbones"):
        pooling_model_args("omni", "cls")


def test_max_len_caps_omni_text_prompts_at_2048_sets_vlm2vec_text_and_is_refused_elsewhere():
    assert max_len_model_args("omni", 512) == {"max_text_tokens": 512}
    assert max_len_model_args("omni", 262144) == {"max_text_tokens": 2048}
    assert max_len_model_args("vlm2vec", 262144) == {"max_text_tokens": 262144}
    with pytest.raises(HarnessError, match="--max_len"):
        max_len_model_args("gme", 512)


def _wav(seconds: float, rate: int = 16000) -> bytes:
    buffer = io.BytesIO()
    t = np.arange(int(seconds * rate)) / rate
    sf.write(buffer, np.sin(2 * np.pi * 440 * t).astype(np.float32), rate, format="WAV")
    return buffer.getvalue()


@pytest.fixture
def esc50(tmp_path: Path) -> Path:
    """Two ESC-50 rows (3 s clips) in the reference's parquet layout under audio-tasks/esc50."""
    folder = tmp_path / "data" / "audio-tasks" / "esc50"
    folder.mkdir(parents=True)
    audio = [{"bytes": _wav(3.0), "path": f"{i}.wav"} for i in range(2)]
    pq.write_table(pa.table({"target": [1, 0], "category": ["rooster", "dog"], "audio": audio}), folder / "t.parquet")
    return tmp_path / "data"


def test_audio_max_seconds_replaces_the_crop_of_audio_tasks_only(esc50):
    index = TaskIndex()
    selection = Selection(tasks=[index.tasks["ESC-50"], index.tasks["toolde/web/apibank"]])

    changed = with_audio_max_seconds(selection, 2.5)

    esc, tool = (t.spec for t in changed.tasks)
    assert esc.audio.max_seconds == 2.5 and tool == index.tasks["toolde/web/apibank"].spec
    clip = load_task_data(esc, esc50, "local", None).data.queries[0].input.audio
    assert clip is not None and clip.max_seconds == 2.5  # the AudioRef, hence the cache key
    with pytest.raises(HarnessError, match="audio_max_seconds 7200"):
        with_audio_max_seconds(selection, 7200)


@pytest.fixture(scope="module")
def thinker(tmp_path_factory) -> Path:
    return tiny_qwen2_5_omni(tmp_path_factory.mktemp("omni"))


@pytest.mark.parametrize(("backbone", "pooling"), [("nvomniembed", "mean"), ("e5_omni", "last"), ("lco_omni", "eos")])
def test_eval_py_runs_an_omni_backbone_on_the_v3_audio_config(thinker, esc50, tmp_path, backbone, pooling):
    config = write_config(tmp_path, {"ESC-50": audio_entries()["ESC-50"]})
    out = tmp_path / "out"
    argv = ["--model_name", str(thinker), "--model_backbone", backbone, "--pooling", pooling]
    argv += ["--dataset_config", str(config), "--encode_output_path", str(out), "--data_basedir", str(esc50)]
    argv += ["--audio_max_seconds", "1.5", "--device", "cpu", "--cache_dir", str(tmp_path / "cache")]

    assert main(argv) == 0

    run = json.loads((out / "leaderboard.json").read_text())
    assert run["run"]["audio_max_seconds"] == 1.5
    facts = run["model"]["adapter_metadata"]
    assert facts["adapter"] == "omni" and facts["backbone"] == backbone
    assert facts["settings"]["style"] == backbone
    assert facts["settings"]["pooling"] == ("mean" if pooling == "mean" else "last")
    assert json.loads((out / "ESC-50_score.json").read_text())["num_data"] == 2


def test_audio_root_of_clips_relative_to_data_basedir_is_the_tables_folder(tmp_path):
    # SpeechCommands' clip paths are relative to --data_basedir (media_root ""): audio.yaml's
    # audio-tasks/speechcommand-1k is its tables' folder, and another folder moves the tables only.
    assert _one(tmp_path, "SpeechCommands").media_root == ""
    spec = _one(tmp_path, "SpeechCommands", audio_root="mine/sc")
    assert spec.media_root == ""
    assert spec.dataset.files == ["mine/sc/query_eval.parquet"]


def test_audio_root_of_a_generated_task_moves_its_generator_files(tmp_path):
    spec = _one(tmp_path, "TUTSound", audio_root="mine/tut")
    assert spec.media_root == "mine/tut/TUT-sound-events-2017-development"
    assert spec.dataset.generate.root == "mine/tut/TUT-sound-events-2017-development"


def test_ave_audio_root_is_its_clip_folder_and_another_is_refused(tmp_path):
    assert _one(tmp_path, "AVE").media_root == "audio-tasks/AVE/AVE_Dataset"
    with pytest.raises(
        HarnessError, match=r"audio_root: task 'AVE' reads its clips under 'audio-tasks/AVE/AVE_Dataset/audios'"
    ):
        _one(tmp_path, "AVE", audio_root="mine/audios")
