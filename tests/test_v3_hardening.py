"""Hostile input against the MMEB-V3 additions, found in review: nested result files and symlinked
sub-folders of an output folder, audio windows and decode sizes, discovery links and qrels text,
published-score tables, and the score-zero rule's metric definitions."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from harness.errors import DataError
from harness.leaderboard.checks import EntryError
from harness.results.files import OutputPathError, output_file
from harness.results.output_folder import claim_output_folder

SETTINGS = {"model": "m", "model_args": {"pretrained": "a"}, "limit": None}


def test_a_symlinked_sub_folder_cannot_lead_results_out_of_the_folder(tmp_path: Path):
    out, outside = tmp_path / "out", tmp_path / "outside"
    out.mkdir()
    outside.mkdir()
    (out / "text").symlink_to(outside, target_is_directory=True)
    with pytest.raises(OutputPathError, match="through a symlink"):
        output_file(out, "text/BRIGHT_score.json")
    assert output_file(out, "plain_score.json") == out / "plain_score.json"


def test_nested_results_of_an_unmarked_run_are_found_and_overwrite_stays_inside(tmp_path: Path):
    out = tmp_path / "out"
    (out / "text" / "BRIGHT").mkdir(parents=True)
    (out / "text" / "BRIGHT" / "aops_score.json").write_text("{}")
    with pytest.raises(OutputPathError, match="unmarked run .*text/BRIGHT/aops_score.json"):
        claim_output_folder(out, SETTINGS)
    victim = tmp_path / "victim_score.json"
    victim.write_text("keep me")
    (out / "link").symlink_to(tmp_path, target_is_directory=True)
    folder = claim_output_folder(out, SETTINGS, overwrite=True)  # the nested leftover is removed
    folder.release()
    assert not (out / "text" / "BRIGHT" / "aops_score.json").exists()
    assert victim.read_text() == "keep me"  # results are not looked for through links


def test_audio_windows_are_bounded_and_refused_on_in_memory_audio():
    from harness.data.audio_values import audio_window

    with pytest.raises(ValueError, match="seconds in"):
        audio_window("[1e305, null]")
    with pytest.raises(ValueError, match="seconds in"):
        audio_window("[0, 1e306]")
    assert audio_window("[1.5, 2]") == (1.5, 2.0)


def test_decoding_is_bounded_by_samples_not_by_the_file(tmp_path: Path, monkeypatch):
    import numpy as np
    import soundfile

    from harness.errors import MediaError
    from harness.inputs import AudioRef
    from harness.media import audio

    path = tmp_path / "wide.wav"
    soundfile.write(path, np.zeros((16000, 8), dtype=np.float32), 16000)
    monkeypatch.setattr(audio, "MAX_DECODED_SAMPLES", 1000)
    with pytest.raises(MediaError, match="over the limit of 1,000 samples"):
        audio.load_audio(AudioRef(path))


def test_discovery_refuses_link_loops_and_reads_qrels_text_in_one_line(tmp_path: Path):
    from harness.data.discovered_tables import _read_tsv_qrels
    from harness.data.discovery import _inside

    loop = tmp_path / "queries.jsonl"
    os.symlink(loop, loop)
    with pytest.raises(DataError, match="cannot be resolved"):
        _inside(tmp_path, loop, "query file")
    bad = tmp_path / "qrels.tsv"
    bad.write_bytes(b"q1\td1\t1\n\xff\xfe\t2\t3\n")
    with pytest.raises(DataError, match="not UTF-8"):
        _read_tsv_qrels(bad)


def test_published_tables_with_a_bom_or_no_dataset_column_or_clashing_models(tmp_path: Path):
    from harness.leaderboard.reference import TaskInfo
    from harness.leaderboard.reference_v3 import import_v3_tables, write_v3_entries

    catalogue = {"A-OKVQA": TaskInfo("image", None, "hit@1")}
    run = tmp_path / "src" / "run"
    run.mkdir(parents=True)
    table = run / "run_image_hit@1_paper_vs_repro.csv"
    table.write_bytes(b"\xef\xbb\xbfdataset,GME-7B (paper)\nA-OKVQA,50.0\n")
    assert [e.model.name for e in import_v3_tables(tmp_path / "src", catalogue).entries] == ["GME-7B"]
    table.write_text("datasets,GME-7B (paper)\nA-OKVQA,50.0\n")
    with pytest.raises(EntryError, match="no 'dataset' column"):
        import_v3_tables(tmp_path / "src", catalogue)
    table.write_text("dataset,Other\nA-OKVQA,50.0\n")
    with pytest.raises(EntryError, match="no paper scores found"):
        import_v3_tables(tmp_path / "src", catalogue)
    table.write_text("dataset,GME 7B (paper),GME_7B (paper)\nA-OKVQA,50.0,60.0\n")
    with pytest.raises(EntryError, match="would share the entry file"):
        write_v3_entries(import_v3_tables(tmp_path / "src", catalogue), tmp_path / "board")


def test_score_zero_for_queries_without_positives_needs_the_v3_definitions():
    from pydantic import ValidationError

    from harness.taskspec import TaskIndex
    from harness.taskspec.schema import TaskSpec

    data = TaskIndex().tasks["toolde/web/apibank"].spec.model_dump(exclude_unset=True)
    data["metrics"] = {**data["metrics"], "definitions": "vlm2vec-6e1e1d4"}
    with pytest.raises(ValidationError, match="needs metrics.definitions vlm2vec-44f991d"):
        TaskSpec.model_validate(data)
