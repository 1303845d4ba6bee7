"""The 4 MMEB-V3 memory task files reproduce VLM2Vec's memory_retrieval parser (44f991d).

The fixture is a tiny ``memory-tasks/`` tree built by code, in the released flat layout: two
sub-tasks of one dataset (``episodes/ep_a`` with a TSV qrels in the 3-field layout,
``episodes/ep_b`` with the ``Q0`` layout, both sharing ``episodes/corpus.jsonl`` found upward),
a root sub-task with ``qrels.jsonl`` and its own corpus, and ``task_instructions.json`` holding
a sub-task instruction (``ep_a``), a dataset-level one (for ``ep_b``) and none for the root.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

import harness
import harness.data.discovery as discovery
from harness.data.records import build_task_data
from harness.data.sources import load_rows
from harness.errors import DataError
from harness.taskspec.index import TaskIndex
from harness.taskspec.schema import DatasetSource, FolderDiscovery, TaskSpec

KEYS = ["memory/KnowMeBench", "memory/REALTALK", "memory/PeerQA", "memory/DeepPlanning"]
NAME = "KnowMeBench"


def _jsonl(path: Path, rows: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))


def _tree(base: Path) -> Path:
    """``memory-tasks/KnowMeBench`` under ``base``: three sub-tasks (see the module docstring)."""
    root = base / "memory-tasks" / NAME
    _jsonl(
        root / "episodes" / "ep_a" / "queries.jsonl",
        [
            {"_id": "q1", "text": "  where did I go?"},
            {"id": "q2", "query": "what did I eat?"},
            {"qid": "q3", "text": ""},  # no text, but an instruction: kept, as the reference keeps it
            {"text": "no id"},  # dropped
        ],
    )
    (root / "episodes" / "ep_a" / "qrels.tsv").write_text(
        "query-id\tcorpus-id\tscore\nq1\td1\t1\nq1\td2\t0\nq2\td2\t2\nq2\td2\t1\nq2\td3\t0\n"
    )
    _jsonl(root / "episodes" / "ep_b" / "queries.jsonl", [{"query_id": "q1", "short_query": "when?"}])
    (root / "episodes" / "ep_b" / "qrels.tsv").write_text("q1 Q0 d3 1\n")
    _jsonl(
        root / "episodes" / "corpus.jsonl",
        [
            {"_id": "d1", "title": "Day 1", "text": "park"},
            {"doc_id": "d2", "content": "pizza"},
            {"id": "d3", "title": "only a title"},  # no text: dropped, as the reference drops it
            {"id": "d3", "text": "noon"},
        ],
    )
    _jsonl(root / "query.jsonl", [{"_id": "r1", "text": "root question"}, {"_id": "r2", "text": "unjudged"}])
    _jsonl(root / "qrels.jsonl", [{"query-id": "r1", "corpus-id": "x1", "label": 1}])
    _jsonl(root / "corpus.jsonl", [{"_id": "x1", "text": "root doc"}])
    instructions = {NAME: {"ep_a": "Recall the episode:", NAME: "Answer from memory:"}, "Other": {"x": "y"}}
    (base / "memory-tasks" / "task_instructions.json").write_text(json.dumps(instructions))
    return root


@pytest.fixture
def memory_base(tmp_path: Path) -> Path:
    base = tmp_path / "data"
    _tree(base)
    return base


@pytest.fixture(scope="module")
def index() -> TaskIndex:
    return TaskIndex()


def _spec(index: TaskIndex) -> TaskSpec:
    return index.tasks[KEYS[0]].spec


def _source(table: str, **extra: object) -> DatasetSource:
    return DatasetSource(discover=FolderDiscovery(root=f"memory-tasks/{NAME}", table=table, **extra))  # type: ignore[arg-type]


def test_the_four_memory_keys_and_their_group_load_with_memory_defaults(index: TaskIndex):
    for key in KEYS:
        spec = index.tasks[key].spec
        assert spec.modality == "memory" and spec.ranking == "global"
        assert spec.metrics.main == "hit@1" and spec.metrics.definitions == "vlm2vec-44f991d"
        assert spec.dataset.discover is not None and spec.dataset.discover.root == f"memory-tasks/{key.split('/')[1]}"
        assert spec.dataset.discover.instruction_key == key.split("/")[1]
    assert index.expand("mmeb_v3_memory") == KEYS


def test_query_files_are_discovered_in_the_references_order_with_prefixed_ids(memory_base: Path):
    rows = load_rows(_source("queries"), memory_base, "local")
    found = [row["discovered"] for row in rows.rows]
    # without instructions q3 (empty text) is dropped too, as the reference drops an empty query
    assert [f["id"] for f in found] == ["episodes/ep_a::q1", "episodes/ep_a::q2", "episodes/ep_b::q1", "r1", "r2"]
    assert [f["subtask"] for f in found][-1] == ""
    assert rows.provenance["dropped_rows"] == 2
    assert rows.locations[0].endswith("episodes/ep_a/queries.jsonl:1")


def test_the_corpus_is_pooled_once_with_ids_prefixed_by_its_folder(memory_base: Path):
    rows = load_rows(_source("corpus"), memory_base, "local")
    assert [(r["discovered"]["id"], r["discovered"]["text"]) for r in rows.rows] == [
        ("episodes::d1", "Day 1\npark"),
        ("episodes::d2", "pizza"),
        ("episodes::d3", "noon"),
        ("x1", "root doc"),
    ]
    assert rows.provenance["dropped_rows"] == 1


def test_qrels_keep_positive_grades_the_last_of_a_repeated_pair_and_skip_a_header(memory_base: Path):
    rows = load_rows(_source("qrels"), memory_base, "local")
    assert [(r["query-id"], r["corpus-id"], r["score"]) for r in rows.rows] == [
        ("episodes/ep_a::q1", "episodes::d1", 1.0),
        ("episodes/ep_a::q2", "episodes::d2", 1.0),
        ("episodes/ep_b::q1", "episodes::d3", 1.0),
        ("r1", "x1", 1.0),
    ]


def test_query_text_is_instruction_space_query_stripped_by_sub_task_then_dataset(index: TaskIndex, memory_base: Path):
    spec = _spec(index)
    rows = load_rows(spec.dataset, memory_base, "local")
    data = build_task_data(spec, rows, memory_base, check_media=False, data_source="local")
    texts = [q.input.text for q in data.queries]
    assert texts == [
        "Recall the episode:   where did I go?",
        "Recall the episode: what did I eat?",
        "Recall the episode:",
        "Answer from memory: when?",
        "Answer from memory: root question",
        "Answer from memory: unjudged",
    ]
    assert dict(data.queries[1].relevance) == {"episodes::d2": 1.0}
    assert dict(data.queries[5].relevance) == {}  # kept: the reference scores it 0
    assert list(data.candidates) == ["episodes::d1", "episodes::d2", "episodes::d3", "x1"]
    assert data.candidates["episodes::d1"].text == "Day 1\npark"


def test_without_a_dataset_key_the_root_sub_task_takes_the_only_instruction(memory_base: Path):
    rows = load_rows(
        _source("queries", instructions="memory-tasks/task_instructions.json", instruction_key="Other"),
        memory_base,
        "local",
    )
    by_subtask = {r["discovered"]["subtask"]: r["discovered"]["instruction"] for r in rows.rows}
    assert by_subtask == {"episodes/ep_a": "", "episodes/ep_b": "", "": "y"}


def test_a_query_file_without_qrels_is_skipped(memory_base: Path):
    _jsonl(memory_base / "memory-tasks" / NAME / "lonely" / "queries.jsonl", [{"_id": "z", "text": "t"}])
    rows = load_rows(_source("queries"), memory_base, "local")
    assert rows.provenance["skipped_query_files"] == ["lonely/queries.jsonl"]
    assert all(not r["discovered"]["id"].startswith("lonely") for r in rows.rows)


def test_a_malformed_tsv_line_is_one_error_naming_file_and_line(memory_base: Path):
    (memory_base / "memory-tasks" / NAME / "episodes" / "ep_b" / "qrels.tsv").write_text("q1 Q0 d3 1\nq1 d3\n")
    with pytest.raises(DataError, match=r"ep_b/qrels\.tsv:2: a qrels line needs") as caught:
        load_rows(_source("qrels"), memory_base, "local")
    assert "\n" not in str(caught.value)


def test_a_non_numeric_score_after_line_one_is_an_error(memory_base: Path):
    (memory_base / "memory-tasks" / NAME / "episodes" / "ep_b" / "qrels.tsv").write_text("q1 d3 1\nq1 d4 high\n")
    with pytest.raises(DataError, match=r"qrels\.tsv:2: the qrels score must be a number"):
        load_rows(_source("qrels"), memory_base, "local")


def test_a_symlink_leaving_the_base_is_refused(memory_base: Path, tmp_path: Path):
    outside = tmp_path / "outside"
    _jsonl(outside / "corpus.jsonl", [{"_id": "s", "text": "secret"}])
    os.remove(memory_base / "memory-tasks" / NAME / "corpus.jsonl")
    os.symlink(outside / "corpus.jsonl", memory_base / "memory-tasks" / NAME / "corpus.jsonl")
    with pytest.raises(DataError, match="outside --data_basedir"):
        load_rows(_source("corpus"), memory_base, "local")


def test_a_symlinked_root_inside_the_base_is_followed_as_the_reference_resolves_it(memory_base: Path):
    typed = memory_base / "memory-tasks" / "Episodic"
    typed.mkdir()
    os.symlink("../KnowMeBench", typed / NAME)
    via_link = DatasetSource(discover=FolderDiscovery(root=f"memory-tasks/Episodic/{NAME}", table="queries"))
    flat = load_rows(_source("queries"), memory_base, "local").rows
    assert [r["discovered"] for r in load_rows(via_link, memory_base, "local").rows] == [r["discovered"] for r in flat]


def test_too_many_query_files_is_one_error(memory_base: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(discovery, "MAX_QUERY_FILES", 2)
    with pytest.raises(DataError, match=r"3 query files \(limit 2\)"):
        load_rows(_source("queries"), memory_base, "local")


def test_discover_is_local_only_and_alone():
    with pytest.raises(DataError, match="local data"):
        load_rows(_source("queries"), Path("."), "hub")
    with pytest.raises(ValueError, match="discover alone"):
        DatasetSource(path="a/b", discover=FolderDiscovery(root="x", table="qrels"))


def test_an_engine_run_writes_the_score_file_with_uncut_mrr_and_counts_unjudged_queries(
    memory_base: Path, tmp_path: Path, tiny_checkpoint: Path
):
    out = tmp_path / "out"
    result = harness.evaluate(
        "vlm2vec",
        {"pretrained": str(tiny_checkpoint), "max_pixels": 50176},
        [KEYS[0]],
        data_basedir=memory_base,
        output_path=out,
        use_cache=False,
    )
    score = json.loads((out / "memory" / f"{NAME}_score.json").read_text())
    assert "mrr" in score and "mrr@1" not in score and "hit@1" in score
    assert score["num_pred"] == score["num_data"] == 6 and score["num_excluded"] == 0
    assert result.run_file.tasks[KEYS[0]].modality == "memory"
