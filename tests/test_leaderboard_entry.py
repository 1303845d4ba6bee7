"""The leaderboard entry standard: schema, checks on read and write, migration of run files."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path

import pytest
from leaderboard_factory import make_entry, run_payload

from harness.leaderboard import (
    ENTRY_SCHEMA_VERSION,
    EntryError,
    check_entry,
    entry_from_payload,
    entry_json_schema,
    load_entry,
    write_entry,
)
from harness.leaderboard.entry import KEY_PATTERN

REPO = Path(__file__).resolve().parent.parent


def _entry_payload() -> dict:
    return make_entry().model_dump(mode="json")


def test_committed_json_schema_matches_the_entry_model():
    committed = (REPO / "leaderboard" / "entry.schema.json").read_text(encoding="utf-8")
    assert committed == entry_json_schema()
    assert json.loads(committed)["properties"]["schema_version"]["const"] == ENTRY_SCHEMA_VERSION


def test_run_file_is_migrated_with_scores_nested_by_modality():
    entry = make_entry()
    assert entry.schema_version == "2.0"
    assert entry.benchmark.key() == "bench@1.0"
    assert set(entry.scores) == {"image", "visdoc"}
    assert set(entry.scores["image"]) == {"alpha", "beta"}
    assert entry.scores["visdoc"]["gamma"].task_version == "1.0"
    assert entry.model.name == "org/model-a" and entry.model.revision == "abc123"
    assert entry.provenance.kind == "harness_run" and entry.provenance.harness_commit == "deadbeef"
    assert entry.aggregates.overall == pytest.approx(0.5)
    assert entry.aggregates.modalities == {"image": pytest.approx(0.375), "visdoc": pytest.approx(0.75)}


def test_tampered_overall_in_an_entry_is_refused_naming_the_field():
    payload = _entry_payload()
    payload["aggregates"]["overall"] = 0.9
    with pytest.raises(EntryError, match=r"aggregates\.overall: 0\.9 does not match"):
        entry_from_payload(payload)


def test_tampered_modality_mean_in_a_run_file_is_refused():
    payload = run_payload()
    payload["modalities"]["image"] = 0.99
    with pytest.raises(EntryError, match=r"modalities\.image: 0\.99 does not match"):
        entry_from_payload(payload)


def test_main_score_that_differs_from_its_metric_is_refused():
    payload = _entry_payload()
    payload["scores"]["image"]["alpha"]["main_score"] = 0.4
    with pytest.raises(EntryError, match=r"scores\.image\.alpha\.main_score"):
        entry_from_payload(payload)


def test_schema_failure_names_the_field():
    payload = _entry_payload()
    del payload["scores"]["image"]["beta"]["main_metric"]
    with pytest.raises(EntryError, match=r"scores\.image\.beta\.main_metric: Field required"):
        entry_from_payload(payload)


def test_unknown_field_is_refused():
    payload = _entry_payload()
    payload["model"]["nickname"] = "x"
    with pytest.raises(EntryError, match=r"model\.nickname: Extra inputs are not permitted"):
        entry_from_payload(payload)


def test_unsupported_schema_version_is_refused_with_the_readable_ones():
    payload = _entry_payload()
    payload["schema_version"] = "3.0"
    with pytest.raises(EntryError, match=r"schema_version: '3.0' is not supported \(this harness reads 2.0, 1.0\)"):
        entry_from_payload(payload)


def test_partial_run_is_refused():
    payload = run_payload()
    payload["run"]["limit"] = 5
    with pytest.raises(EntryError, match=r"run\.limit: the run was partial"):
        entry_from_payload(payload)


def test_run_without_a_group_covering_its_tasks_needs_an_explicit_benchmark():
    payload = run_payload()
    payload["groups"]["bench"]["tasks"] = ["alpha"]
    with pytest.raises(EntryError, match="pass --benchmark NAME@VERSION"):
        entry_from_payload(payload)


def test_bad_json_names_file_and_line(tmp_path):
    path = tmp_path / "broken.json"
    path.write_text('{\n  "schema_version": "2.0",\n  oops\n}\n')
    with pytest.raises(EntryError, match=r"broken\.json:3: not valid JSON"):
        load_entry(path)


def test_write_then_read_round_trips(tmp_path):
    entry = make_entry()
    write_entry(tmp_path / "e.json", entry)
    assert load_entry(tmp_path / "e.json") == entry


def test_invalid_entry_is_not_written(tmp_path):
    entry = copy.deepcopy(make_entry())
    entry.aggregates.overall = 0.1
    with pytest.raises(EntryError, match="aggregates.overall"):
        write_entry(tmp_path / "e.json", entry)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), float("-inf")])
@pytest.mark.parametrize(
    ("field", "where"),
    [
        (("scores", "image", "alpha", "main_score"), r"scores\.image\.alpha\.main_score"),
        (("scores", "image", "alpha", "metrics", "hit@5"), r"scores\.image\.alpha\.metrics\.hit@5"),
        (("aggregates", "overall"), r"aggregates\.overall"),
        (("aggregates", "modalities", "image"), r"aggregates\.modalities\.image"),
        (("aggregates", "meta_tasks", "X-CLS"), r"aggregates\.meta_tasks\.X-CLS"),
        (("model", "settings", "max_pixels"), r"model\.settings\.max_pixels"),
    ],
)
def test_non_finite_number_anywhere_is_refused_naming_the_field(field, where, bad):
    payload = _entry_payload()
    _set(payload, field, bad)
    with pytest.raises(EntryError, match=where + ": .*finite number"):
        entry_from_payload(payload)


@pytest.mark.parametrize("bad", [True, False, "0.5", "1", None, [0.5], {"value": 0.5}])
def test_main_score_that_is_not_a_json_number_is_refused(bad):
    payload = _entry_payload()
    payload["scores"]["image"]["alpha"]["main_score"] = bad
    payload["scores"]["image"]["alpha"]["metrics"]["hit@1"] = bad
    with pytest.raises(EntryError, match=r"scores\.image\.alpha\.main_score: Input should be a valid number"):
        entry_from_payload(payload)


@pytest.mark.parametrize(("field", "bad"), [("num_queries", True), ("num_queries", 10.0), ("num_queries", "10")])
def test_count_that_is_not_a_json_integer_is_refused(field, bad):
    payload = _entry_payload()
    payload["scores"]["image"]["alpha"][field] = bad
    with pytest.raises(EntryError, match=rf"scores\.image\.alpha\.{field}: Input should be a valid integer"):
        entry_from_payload(payload)


def test_num_parameters_that_is_a_boolean_is_refused():
    payload = _entry_payload()
    payload["model"]["num_parameters"] = True
    with pytest.raises(EntryError, match=r"model\.num_parameters: Input should be a valid integer"):
        entry_from_payload(payload)


def test_integer_scores_zero_and_one_are_accepted_as_numbers():
    payload = run_payload(tasks={"alpha": ("image", "X-CLS", 1.0), "beta": ("image", "X-RET", 0.0)})
    for task in payload["tasks"].values():
        task["main_score"] = int(task["main_score"])
        task["metrics"] = {name: int(value) for name, value in task["metrics"].items()}
    payload["modalities"]["image"] = 0.5
    entry = entry_from_payload(payload)
    assert entry.scores["image"]["alpha"].main_score == 1.0
    assert entry.scores["image"]["beta"].metrics["hit@1"] == 0.0


def test_nan_aggregate_is_refused_even_when_it_gets_past_the_schema():
    entry = make_entry()
    entry.aggregates.overall = float("nan")  # assignment is not validated
    with pytest.raises(EntryError, match=r"aggregates\.overall: nan does not match"):
        check_entry(entry)


@pytest.mark.parametrize(
    ("field", "bad"),
    [
        (("tasks", "alpha", "main_score"), float("nan")),
        (("tasks", "alpha", "main_score"), True),
        (("tasks", "alpha", "metrics", "hit@1"), "0.5"),
        (("overall",), float("inf")),
        (("modalities", "image"), float("nan")),
        (("tasks", "alpha", "num_queries"), True),
    ],
)
def test_run_file_with_a_non_finite_or_non_numeric_score_is_refused(field, bad):
    payload = run_payload()
    _set(payload, field, bad)
    with pytest.raises(EntryError, match=r"\.".join(field)):
        entry_from_payload(payload)


@pytest.mark.parametrize(
    ("field", "bad"),
    [
        (("scores", "image"), 'x"><img src=x onerror=alert(1)>'),
        (("scores", "image", "alpha"), "<script>"),
        (("scores", "image", "alpha"), "a\nb"),
        (("scores", "image", "alpha"), " leading-space"),
        (("scores", "image", "alpha"), "x" * 129),
    ],
)
def test_modality_and_task_keys_outside_the_name_pattern_are_refused(field, bad):
    payload = _entry_payload()
    parent = payload
    for key in field[:-1]:
        parent = parent[key]
    parent[bad] = parent.pop(field[-1])
    with pytest.raises(EntryError, match=r"\[key\]: String should"):
        entry_from_payload(payload)


def test_meta_task_outside_the_name_pattern_is_refused():
    payload = _entry_payload()
    payload["scores"]["image"]["alpha"]["meta_task"] = "X-CLS<b>"
    with pytest.raises(EntryError, match=r"scores\.image\.alpha\.meta_task: String should match pattern"):
        entry_from_payload(payload)


def test_names_of_the_committed_reference_entries_and_mmeb_tasks_fit_the_pattern():
    pattern = re.compile(KEY_PATTERN)
    for name in (
        "MSCOCO_i2t",
        "Visual7W-Pointing",
        "ViDoRe_arxivqa",
        "VisRAG_ChartQA",
        "MomentSeeker",
        "I-CLS",
        "image",
        "video",
        "visdoc",
        "text",
        "my task 2",
        "text/BRIGHT/aops",  # MMEB-V3 keys
        "toolde/web/apigen",
    ):
        assert pattern.match(name), name
    for name in ("/x", "x/", "a//b", "a/../b", "a/.b", "a/ b"):
        assert not pattern.match(name), name


def test_model_name_of_only_invisible_characters_is_refused():
    payload = _entry_payload()
    payload["model"]["name"] = "\u200b\u202e\x1b[0m "
    with pytest.raises(EntryError, match=r"model\.name: no visible character"):
        entry_from_payload(payload)


def test_committed_schema_refuses_keys_outside_the_pattern_too():
    schema = json.loads((REPO / "leaderboard" / "entry.schema.json").read_text(encoding="utf-8"))
    scores = schema["properties"]["scores"]
    assert scores["propertyNames"]["pattern"] == KEY_PATTERN
    assert "patternProperties" not in json.dumps(schema)


def _set(payload: dict, field: tuple[str, ...], value: object) -> None:
    for key in field[:-1]:
        payload = payload[key]
    payload[field[-1]] = value


def test_an_entry_built_in_code_with_nan_in_its_settings_is_not_written(tmp_path):
    entry = make_entry()
    entry.model.settings = {"temperature": float("nan")}
    with pytest.raises(EntryError, match=r"model\.settings\.temperature: nan is not a finite number"):
        write_entry(tmp_path / "e.json", entry)
    assert list(tmp_path.iterdir()) == []
