"""The 35 MMEB-V3 tool task files reproduce VLM2Vec's ``toolde`` parser.

Expected texts are written out by hand from the reference (``src/data/eval_dataset/
toolde_dataset.py`` at VLM2Vec 44f991d: ``_parse_query_data`` and ``load_candidate_data``; the
keys and paths from ``experiments/public/eval/tool.yaml``). The fixture rows in
``tests/data/mmeb_v3_tool_rows/rows.json`` are written to parquet files in the reference's layout
(``tool-tasks/ToolDe-Queries/<pool>/<task>/...``, ``tool-tasks/ToolDe-Candidates/<pool>/...``).
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest

import harness
from harness.data.records import TaskData, build_task_data
from harness.data.sources import load_rows
from harness.taskspec.index import TaskIndex, builtin_task_dir
from harness.taskspec.schema import IdsTemplateRelevance, TaskSpec
from harness.taskspec.templates import render

ROWS = Path(__file__).parent / "data" / "mmeb_v3_tool_rows" / "rows.json"
TOOL_DIR = builtin_task_dir() / "mmeb_v3" / "tool"
GROUP_DIR = builtin_task_dir() / "mmeb_v3" / "groups"
BACKBONE_TOKENS = ("<|image_pad|>", "<|vision_start|>", "<|vision_end|>", "<image>", "<|video_pad|>", "<|image_1|>")

# The reference's tool.yaml keys, in its order.
POOLS = {
    "web": [
        "apibank", "apigen", "mnms", "reversechain", "rotbench", "t-eval-dialog", "t-eval-step",
        "taskbench-daily", "toolace", "toolbench", "toolemu", "tooleyes", "toollens", "ultratool",
        "autotools-food", "autotools-music", "autotools-weather", "restgpt-spotify", "restgpt-tmdb",
    ],
    "code": [
        "craft-math-algebra", "craft-tabmwp", "craft-vqa", "gorilla-huggingface", "gorilla-pytorch",
        "gorilla-tensor", "toolink",
    ],
    "customized": [
        "appbench", "gpt4tools", "gta", "taskbench-huggingface", "taskbench-multimedia", "metatool",
        "tool-be-honest", "toolalpaca", "toolbench-sam",
    ],
}  # fmt: skip
TASKS = {f"toolde/{pool}/{name}": pool for pool, names in POOLS.items() for name in names}

WEATHER_DOC = (
    '{"name": "get_weather", "description": "Current weather for a city, e.g. Z\\u00fcrich", '
    '"parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}'
)
CALENDAR_DOC = (
    '{"name": "add_event", "description": "Adds <event> & reminders", '
    '"parameters": {"date": "YYYY-MM-DD", "limit": 10.0}}'
)


def task(name: str) -> TaskSpec:
    spec = TaskIndex().tasks[name].spec
    assert isinstance(spec, TaskSpec)
    return spec


def write_fixture_tables(base: Path) -> Path:
    """Write each table of rows.json to its parquet file under ``base/tool-tasks``; return ``base``."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    for relative, rows in json.loads(ROWS.read_text(encoding="utf-8")).items():
        if relative.startswith("_"):
            continue
        path = base / "tool-tasks" / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(pa.Table.from_pylist(rows), path)
    return base


@pytest.fixture(scope="module")
def tool_basedir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_fixture_tables(tmp_path_factory.mktemp("tool_data"))


def fixture_data(name: str, base: Path) -> TaskData:
    spec = task(name)
    rows = load_rows(spec.dataset, base, "local")
    return build_task_data(spec, rows, base / spec.media_root, data_basedir=base, data_source="local")


def relevance_of(row: dict[str, Any]) -> list[Any]:
    spec = task("toolde/web/apibank")
    assert isinstance(spec.relevance, IdsTemplateRelevance)
    result: list[Any] = json.loads(render(spec.relevance.template, {**row, "row": row}))
    return result


# --- 1. the files load, with the reference's names ----------------------------------------------


def test_every_reference_key_is_a_task_file():
    files = sorted(
        p.relative_to(TOOL_DIR).with_suffix("").as_posix()
        for p in TOOL_DIR.rglob("*.yaml")
        if not p.name.startswith("_")
    )
    assert files == sorted(name.removeprefix("toolde/") for name in TASKS)
    index = TaskIndex()
    assert {name for name in index.tasks if name.startswith("toolde/")} == set(TASKS)
    assert len(TASKS) == 35


@pytest.mark.parametrize("name", list(TASKS))
def test_tool_task_reads_its_query_file_and_its_pool(name: str):
    spec = task(name)
    pool, short = TASKS[name], name.rsplit("/", 1)[1]
    assert spec.dataset.files == [f"tool-tasks/ToolDe-Queries/{pool}/{short}/queries-00000-of-00001.parquet"]
    assert spec.dataset.path is None  # local files only: the reference names no hub dataset
    assert spec.candidates.corpus is not None
    assert spec.candidates.corpus.files == [f"tool-tasks/ToolDe-Candidates/{pool}/tools-00000-of-00001.parquet"]
    assert spec.candidates.columns == []


@pytest.mark.parametrize("name", list(TASKS))
def test_tool_task_settings(name: str):
    spec = task(name)
    assert (spec.modality, spec.ranking, spec.version, spec.media_root) == ("tool", "global", "1.0", "")
    assert spec.metrics.main == "hit@1"
    assert spec.metrics.families == ["hit", "ndcg", "precision", "recall", "f1", "map", "mrr"]
    assert spec.metrics.k == [1, 5, 10]
    assert isinstance(spec.relevance, IdsTemplateRelevance)
    assert spec.relevance.unmatched == "score_zero"
    assert spec.query.image_column is None and spec.candidates.image_column is None
    assert TaskIndex().meta_task_of(name) is None


# --- 2. groups ----------------------------------------------------------------------------------


@pytest.mark.parametrize("pool", list(POOLS))
def test_pool_group_lists_its_tasks_in_reference_order(pool: str):
    index = TaskIndex()
    group = index.groups[f"mmeb_v3_tool_{pool}"].spec
    assert (group.aggregate, group.meta_task) == ("mean_of_tasks", False)
    assert index.expand(f"mmeb_v3_tool_{pool}") == [f"toolde/{pool}/{name}" for name in POOLS[pool]]


def test_mmeb_v3_tool_is_the_mean_over_all_35_tasks():
    index = TaskIndex()
    group = index.groups["mmeb_v3_tool"].spec
    assert group.aggregate == "mean_of_tasks"
    assert group.task == ["mmeb_v3_tool_web", "mmeb_v3_tool_code", "mmeb_v3_tool_customized"]
    assert index.expand("mmeb_v3_tool") == list(TASKS)


# --- 3. texts and relevance equal the reference's ----------------------------------------------


def test_query_is_instruction_space_query_stripped():
    spec = task("toolde/code/toolink")
    row = {"instruction": "Retrieve the function.", "query": " Solve Ax = b.  "}
    assert render(spec.query.template, {**row, "row": row}) == "Retrieve the function.  Solve Ax = b."


def test_query_without_instruction_is_the_raw_query_unstripped():
    spec = task("toolde/code/toolink")
    for row in ({"instruction": "", "query": " q "}, {"instruction": None, "query": " q "}, {"query": " q "}):
        assert render(spec.query.template, {**row, "row": row}) == " q "


def test_documentation_object_is_redumped_with_json_dumps_order_and_separators():
    spec = task("toolde/web/apibank")
    cand = {"id": "x", "documentation": '{"b":1,"a":{"é":"<&>"}}'}
    assert render(spec.candidates.template, {**cand, "row": cand, "cand": cand}) == '{"b": 1, "a": {"\\u00e9": "<&>"}}'


def test_documentation_that_is_no_json_object_prints_as_python_str():
    spec = task("toolde/web/apibank")
    for documentation, text in (("not json", "not json"), ('["a", 1]', "['a', 1]"), ('"quoted"', "quoted"), ("3", "3")):
        cand = {"id": "x", "documentation": documentation}
        assert render(spec.candidates.template, {**cand, "row": cand, "cand": cand}) == text


@pytest.mark.parametrize(
    ("row", "ids"),
    [
        ({"label": '[{"id": "t1", "doc": "d"}, {"id": "t2"}]'}, ["t1", "t2"]),  # a JSON string
        ({"label": [{"id": "t1"}, {"id": "t2"}]}, ["t1", "t2"]),  # a list of {id}
        ({"label": ["t1", "t2"]}, ["t1", "t2"]),  # plain ids
        ({"label": " t1 "}, ["t1"]),  # text that is no JSON: itself, stripped
        ({"label": '"t1"'}, ["t1"]),  # a JSON string value
        ({"label": {"id": "t1"}}, ["t1"]),
        ({"label": '{"id": "t1"}'}, ["t1"]),
        ({"label": [{"name": "no id"}, 7, "t1"]}, ["t1"]),  # elements without an id are skipped
        ({"label": None, "labels": '[{"id": "t3"}]'}, ["t3"]),  # labels when label is null
        ({"labels": ["t3"]}, ["t3"]),  # or absent
        ({"label": "   "}, []),
        ({"label": math.nan}, []),
        ({"label": "5"}, []),  # JSON, but no id in it
        ({}, []),
    ],
)
def test_label_forms_give_the_reference_ids(row: dict[str, Any], ids: list[str]):
    assert relevance_of(row) == ids


def test_web_fixture_rows_give_the_reference_inputs(tool_basedir: Path):
    data = fixture_data("toolde/web/apibank", tool_basedir)
    assert [q.input.text for q in data.queries] == [
        "Given a user request, retrieve the tool that fulfils it. What is the weather in Paris?",
        "  Remind me of the dentist on Friday.  ",
        "Retrieve the tool. Find a tool that is gone.",
    ]
    assert list(data.candidates) == ["weather_api", "calendar_api", "plain_tool", "list_tool"]
    assert [c.text for c in data.candidates.values()] == [
        WEATHER_DOC,
        CALENDAR_DOC,
        "Search the web for a phrase.",
        "['search', 'web']",
    ]
    assert all(c.image is None for c in data.candidates.values())
    assert [q.relevance for q in data.queries] == [
        {"weather_api": 1.0},
        {"calendar_api": 1.0, "plain_tool": 1.0},
        {"deleted_tool": 1.0},
    ]
    assert data.unmatched_positive_rows == [data.queries[2].location]  # scored 0, as the reference does


def test_labels_column_of_id_structs_from_parquet(tool_basedir: Path):
    data = fixture_data("toolde/web/toolace", tool_basedir)
    assert [q.relevance for q in data.queries] == [{"plain_tool": 1.0}, {"weather_api": 1.0, "list_tool": 1.0}]
    assert len(data.candidates) == 4  # the whole web pool, whichever task


def test_code_pool_with_plain_id_lists(tool_basedir: Path):
    data = fixture_data("toolde/code/toolink", tool_basedir)
    assert list(data.candidates) == ["numpy.linalg.solve", "torch.nn.Linear"]
    assert [q.relevance for q in data.queries] == [
        {"numpy.linalg.solve": 1.0},
        {"torch.nn.Linear": 1.0, "numpy.linalg.solve": 1.0},
    ]


# --- 4. backbone-neutral files, and one run ------------------------------------------------------


def test_no_backbone_tokens_in_tool_task_or_group_files():
    paths = [*TOOL_DIR.rglob("*.yaml"), *GROUP_DIR.glob("mmeb_v3_tool*.yaml")]
    assert len(paths) == 35 + 1 + 4
    for path in paths:
        text = path.read_text(encoding="utf-8")
        for token in BACKBONE_TOKENS:
            assert token not in text, f"{path.name} contains {token}"


def test_tool_task_runs_end_to_end_on_the_tiny_checkpoint(tool_basedir: Path, tiny_checkpoint: Path, tmp_path: Path):
    out = tmp_path / "out"
    result = harness.evaluate(
        "vlm2vec",
        {"pretrained": str(tiny_checkpoint), "max_pixels": 50176},
        ["toolde/web/apibank"],
        data_basedir=tool_basedir,
        output_path=out,
        use_cache=False,
        device="cpu",
    )
    score = result.run_file.tasks["toolde/web/apibank"]
    assert (score.modality, score.main_metric, score.num_queries, score.num_candidates) == ("tool", "hit@1", 3, 4)
    assert score.num_unmatched_positive_rows == 1
    assert (out / "toolde" / "web" / "apibank_score.json").is_file()
