"""The leaderboard entry standard: schema, checks on read and write, migration of run files."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
from leaderboard_factory import make_entry, run_payload

from harness.leaderboard import (
    ENTRY_SCHEMA_VERSION,
    EntryError,
    entry_from_payload,
    entry_json_schema,
    load_entry,
    write_entry,
)

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
