"""The other eight MMEB-V3 audio tasks on fixture data in each reference layout: query and candidate
texts, ids and relevance as the reference parsers build them, and broken input refused in one line."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import soundfile as sf

from harness.data import load_task_data
from harness.errors import DataError
from harness.taskspec import TaskIndex

CLOTHO = "Retrieve audio clips that best match the given textual description."
SOUNDDESCS = "Retrieve audio samples that best match the given sound description."
AVE = "Retrieve the video that best matches the given audio event."
TUT = "Retrieve the sound event categories that best match the given audio."


def _wav_bytes(seconds: float = 0.2, rate: int = 16000) -> bytes:
    buffer = io.BytesIO()
    sf.write(buffer, np.zeros(int(seconds * rate), np.float32), rate, format="WAV")
    return buffer.getvalue()


def _wav(path: Path, seconds: float = 0.2, rate: int = 16000) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(_wav_bytes(seconds, rate))


def _load(name: str, base: Path, limit: int | None = None):
    return load_task_data(TaskIndex().tasks[name].spec, base, "local", limit).data


# --- audio_cls: NSynth, SpeechCommands, CREMA-D ---------------------------------------------------


def test_nsynth_reads_eval_query_parquet_and_its_label_column(tmp_path):
    folder = tmp_path / "audio-tasks" / "nsynth-1k" / "eval"
    folder.mkdir(parents=True)
    rows = {
        "query-id": ["a.wav", "b.wav", "c.wav"],
        "audio": [{"bytes": _wav_bytes(), "path": f"{i}.wav"} for i in range(3)],
        "label": ["organ", "bass", "organ"],
        "label_id": [1, 0, 1],
    }
    pq.write_table(pa.table(rows), folder / "query.parquet")

    data = _load("NSynth", tmp_path)

    assert [q.input.text for q in data.queries] == ["Recognize the musical instrument category of the audio."] * 3
    assert data.queries[0].input.audio.source.data[:4] == b"RIFF"
    assert list(data.candidates) == ["organ", "bass"] and data.candidates["bass"].text == "bass"
    assert [q.relevance for q in data.queries] == [{"organ": 1.0}, {"bass": 1.0}, {"organ": 1.0}]


def test_speechcommands_reads_query_eval_and_a_clip_path_under_the_base_folder(tmp_path):
    folder = tmp_path / "audio-tasks" / "speechcommand-1k"
    folder.mkdir(parents=True)
    _wav(tmp_path / "audio-tasks" / "speechcommand" / "yes" / "1.wav")
    clip = "audio-tasks/speechcommand/yes/1.wav"
    rows = {
        "query-id": ["eval-000000"],
        "audio": [{"path": clip, "bytes": None}],
        "audio_path": [clip],
        "label": ["yes"],
        "label_id": [3],
        "split": ["eval"],
    }
    pq.write_table(pa.table(rows), folder / "query_eval.parquet")

    data = _load("SpeechCommands", tmp_path)

    (query,) = data.queries
    assert query.input.text == "Recognize the spoken word category in the audio."
    assert query.input.audio.source == tmp_path / clip
    assert list(data.candidates) == ["yes"] and query.relevance == {"yes": 1.0}


def test_cremad_names_classes_by_the_first_name_column_the_parser_picks(tmp_path):
    folder = tmp_path / "audio-tasks" / "creamD" / "data"
    folder.mkdir(parents=True)
    rows = {
        "audio": [{"bytes": _wav_bytes(), "path": f"{i}.wav"} for i in range(2)],
        "label": [0, 1],
        "major_emotion": ["angry", "sad"],
        "emotion": ["A", "S"],  # major_emotion comes first in the reference's order
    }
    pq.write_table(pa.table(rows), folder / "train-00000.parquet")

    data = _load("CREMA-D", tmp_path)

    assert data.queries[0].input.text == "Recognize the emotion expressed in the speech audio."
    assert list(data.candidates) == ["angry", "sad"]
    assert [q.relevance for q in data.queries] == [{"angry": 1.0}, {"sad": 1.0}]


# --- Clotho ---------------------------------------------------------------------------------------


@pytest.fixture
def clotho(tmp_path: Path) -> Path:
    folder = tmp_path / "audio-tasks" / "clotho"
    for name in ("a.wav", "b.wav"):
        _wav(folder / "evaluation" / name)
    (folder / "clotho_captions_evaluation.csv").write_text(
        "file_name,caption_1,caption_2,caption_3,caption_4,caption_5\n"
        "a.wav, Rain falls on a roof ,Wind blows,Birds sing,A door shuts,Steps\n"
        'b.wav,A dog barks,"Cars, then a horn",,Water runs,Someone coughs\n'
    )
    return tmp_path


def test_clotho_makes_one_query_per_caption_and_skips_an_empty_cell(clotho):
    data = _load("Clotho", clotho)

    texts = [q.input.text for q in data.queries]
    assert len(texts) == 9  # 5 captions of a.wav, 4 of b.wav (caption_3 is empty)
    assert texts[0] == f"{CLOTHO}\nQuery: Rain falls on a roof"
    assert texts[6] == f"{CLOTHO}\nQuery: Cars, then a horn"
    assert [q.relevance for q in data.queries] == [{"a.wav": 1.0}] * 5 + [{"b.wav": 1.0}] * 4
    assert all(q.input.audio is None for q in data.queries)


def test_clotho_candidates_are_the_clips_with_the_audio_placeholder_text(clotho):
    data = _load("Clotho", clotho)

    assert list(data.candidates) == ["a.wav", "b.wav"]
    assert data.candidates["b.wav"].text == "[AUDIO]"
    assert data.candidates["b.wav"].audio.source == clotho / "audio-tasks" / "clotho" / "evaluation" / "b.wav"


def test_clotho_limit_counts_the_exploded_queries(clotho):
    assert len(_load("Clotho", clotho, limit=7).queries) == 7


def test_clotho_missing_clip_is_a_one_line_error_naming_it(clotho):
    (clotho / "audio-tasks" / "clotho" / "evaluation" / "b.wav").unlink()

    with pytest.raises(DataError) as caught:
        _load("Clotho", clotho)

    message = str(caught.value)
    assert "\n" not in message and "b.wav" in message and "not found" in message


# --- SoundDescs -----------------------------------------------------------------------------------


@pytest.fixture
def sounddescs(tmp_path: Path) -> Path:
    folder = tmp_path / "audio-tasks" / "sounddescs-1k" / "eval"
    folder.mkdir(parents=True)
    queries = {"id": ["q1", "q2"], "description": ["  a train passes ", "thunder"], "query-id": ["q1", "q2"]}
    pq.write_table(pa.table(queries), folder / "query.parquet")
    pq.write_table(
        pa.table({"query-id": ["q1", "q2"], "corpus-id": ["c3", "c1"], "score": [1, 1]}), folder / "qrels.parquet"
    )
    corpus = {
        "corpus-id": ["c1", "c2", "c3"],
        "audio_path": ["c1.wav", "c2.wav", "c3.wav"],
        "audio_bytes": [_wav_bytes(0.1), _wav_bytes(0.2), _wav_bytes(0.3)],
    }
    pq.write_table(pa.table(corpus), folder / "corpus.parquet")
    return tmp_path


def test_sounddescs_query_is_the_instruction_and_the_first_text_value(sounddescs):
    data = _load("SoundDescs", sounddescs)

    # no text/caption/sentence/query column: the first non-blank text value of the row, stripped
    assert [q.input.text for q in data.queries] == [f"{SOUNDDESCS}\nQuery: q1", f"{SOUNDDESCS}\nQuery: q2"]


def test_sounddescs_text_column_wins_over_other_text(sounddescs):
    folder = sounddescs / "audio-tasks" / "sounddescs-1k" / "eval"
    table = pq.read_table(folder / "query.parquet").append_column("text", pa.array(["  a train passes ", "thunder"]))
    pq.write_table(table, folder / "query.parquet")

    data = _load("SoundDescs", sounddescs)

    assert data.queries[0].input.text == f"{SOUNDDESCS}\nQuery: a train passes"


def test_sounddescs_pool_is_the_evaluated_queries_positives_in_corpus_order(sounddescs):
    data = _load("SoundDescs", sounddescs)

    assert list(data.candidates) == ["c1", "c3"]  # c2 is nobody's positive
    assert data.candidates["c3"].text == "[AUDIO]" and data.candidates["c3"].audio.source.data[:4] == b"RIFF"
    assert [q.relevance for q in data.queries] == [{"c3": 1.0}, {"c1": 1.0}]


def test_sounddescs_pool_follows_the_row_limit(sounddescs):
    assert list(_load("SoundDescs", sounddescs, limit=1).candidates) == ["c3"]


# --- AVE ------------------------------------------------------------------------------------------


@pytest.fixture
def ave(tmp_path: Path) -> Path:
    root = tmp_path / "audio-tasks" / "AVE" / "AVE_Dataset"
    root.mkdir(parents=True)
    (root / "testSet.txt").write_text(
        "Category&VideoID&Quality&StartTime&EndTime\nChurch bell&vidB&good&0&10\n\nBarking&vidA&good&2.5&7\n"
    )
    _wav(root / "audios" / "vidB_vidB_0_10.wav")
    _wav(root / "audios" / "vidA_vidA_2_7.wav")
    from PIL import Image

    for video in ("vidA", "vidB"):
        (root / "frames" / video).mkdir(parents=True)
        for i in range(3):
            Image.new("RGB", (8, 8)).save(root / "frames" / video / f"frame_{i:04d}.jpg")
    return tmp_path


def test_ave_query_is_the_clip_audio_and_the_instruction(ave):
    data = _load("AVE", ave)

    audios = ave / "audio-tasks" / "AVE" / "AVE_Dataset" / "audios"
    assert [q.input.text for q in data.queries] == [AVE, AVE]
    assert [q.input.audio.source for q in data.queries] == [audios / "vidB_vidB_0_10.wav", audios / "vidA_vidA_2_7.wav"]
    assert all(q.input.audio.start == 0.0 and q.input.audio.end is None for q in data.queries)


def test_ave_candidates_are_every_video_sorted_for_every_query(ave):
    data = _load("AVE", ave)

    assert [q.candidate_ids for q in data.queries] == [("vidA", "vidB"), ("vidA", "vidB")]
    assert [q.relevance for q in data.queries] == [{"vidB": 1.0}, {"vidA": 1.0}]
    video = data.candidates["vidA"]
    assert video.text == "<|video|> Understand the content of the provided video."
    assert video.video is not None and video.video.source.name == "vidA"


def test_ave_malformed_line_is_a_one_line_error_naming_file_and_line(ave):
    split = ave / "audio-tasks" / "AVE" / "AVE_Dataset" / "testSet.txt"
    split.write_text(split.read_text() + "Dog&vidC&good\n")

    with pytest.raises(DataError) as caught:
        _load("AVE", ave)

    assert str(caught.value).startswith(f"{split}:5: expected Category&VideoID") and "\n" not in str(caught.value)


def test_ave_missing_clip_audio_is_a_one_line_error_naming_it(ave):
    (ave / "audio-tasks" / "AVE" / "AVE_Dataset" / "audios" / "vidA_vidA_2_7.wav").unlink()

    with pytest.raises(DataError) as caught:
        _load("AVE", ave)

    assert "vidA_vidA_2_7.wav" in str(caught.value) and "\n" not in str(caught.value)


# --- TUTSound -------------------------------------------------------------------------------------


def tut_layout(base: Path) -> Path:
    """Two files over the four folds: a.wav (4 s, listed in fold 2) and b.wav (0.5 s, fold 1)."""
    root = base / "audio-tasks" / "tutsound" / "TUT-sound-events-2017-development"
    _wav(root / "audio" / "street" / "a.wav", seconds=4.0)
    _wav(root / "audio" / "street" / "b.wav", seconds=0.5)
    setup = root / "evaluation_setup"
    setup.mkdir(parents=True)
    (setup / "street_fold1_evaluate.txt").write_text("audio/street/b.wav\tstreet\t0.1\t0.3\tbrakes squeaking\n")
    (setup / "street_fold2_evaluate.txt").write_text(
        "audio/street/a.wav\tstreet\t0.2\t1.3\tcar\n"
        "audio/street/a.wav\tstreet\t2.0\t2.0\tpeople walking\n"
        "audio/street/a.wav\tstreet\t3.5\t4.5\tcar\n"
    )
    (setup / "street_fold3_evaluate.txt").write_text("")
    (setup / "street_fold4_evaluate.txt").write_text("\n")
    return root


# The hand-worked example of test_tut_sound_windows: a.wav's kept segments and negatives.
A_SEGMENTS = ["a.wav|0.200-1.300", "a.wav|2.000-2.050", "a.wav|3.500-4.000"]
A_NEGATIVES = ["a.wav|1.500-2.500", "a.wav|2.000-3.000", "a.wav|2.500-3.500"]


def _ids(names: list[str]) -> list[str]:
    return [f"audio/street/{name}" for name in names]


def test_tutsound_rows_are_the_events_of_the_sorted_files(tmp_path):
    tut_layout(tmp_path)

    data = _load("TUTSound", tmp_path)

    texts = [q.input.text for q in data.queries]
    assert texts == [
        f"{TUT}\nQuery: car",
        f"{TUT}\nQuery: people walking",
        f"{TUT}\nQuery: car",
        f"{TUT}\nQuery: brakes squeaking",
    ]
    audio = data.queries[0].input.audio
    assert audio.source.name == "a.wav" and (audio.start, audio.end) == (0.0, None)  # the whole file


def test_tutsound_candidates_are_the_file_segments_then_its_negative_windows(tmp_path):
    tut_layout(tmp_path)

    data = _load("TUTSound", tmp_path)

    assert [list(q.candidate_ids) for q in data.queries[:3]] == [_ids(A_SEGMENTS + A_NEGATIVES)] * 3
    assert list(data.queries[3].candidate_ids) == _ids(["b.wav|0.100-0.300"])  # shorter than a window
    windows = [(data.candidates[c].audio.start, data.candidates[c].audio.end) for c in _ids(A_SEGMENTS + A_NEGATIVES)]
    assert windows == [(0.2, 1.3), (2.0, 2.05), (3.5, 4.0), (1.5, 2.5), (2.0, 3.0), (2.5, 3.5)]
    assert {data.candidates[c].text for c in data.candidates} == {TUT}


def test_tutsound_accepts_any_segment_of_the_label(tmp_path):
    tut_layout(tmp_path)

    data = _load("TUTSound", tmp_path)

    car = {c: 1.0 for c in _ids([A_SEGMENTS[0], A_SEGMENTS[2]])}
    assert [q.relevance for q in data.queries] == [
        car,
        {_ids([A_SEGMENTS[1]])[0]: 1.0},
        car,
        {_ids(["b.wav|0.100-0.300"])[0]: 1.0},
    ]


def test_tutsound_hard_accepts_only_the_event_own_segment(tmp_path):
    tut_layout(tmp_path)

    data = _load("TUTSound-hard", tmp_path)

    assert [list(q.relevance) for q in data.queries] == [[c] for c in _ids([*A_SEGMENTS, "b.wav|0.100-0.300"])]
    assert all(q.relevance[c] == 1.0 for q in data.queries for c in q.relevance)


def test_tutsound_malformed_event_line_is_a_one_line_error(tmp_path):
    root = tut_layout(tmp_path)
    listing = root / "evaluation_setup" / "street_fold3_evaluate.txt"
    listing.write_text("audio/street/a.wav\tstreet\t0.2\n")

    with pytest.raises(DataError) as caught:
        _load("TUTSound", tmp_path)

    assert str(caught.value).startswith(f"{listing}:1: ") and "\n" not in str(caught.value)


def test_tutsound_missing_audio_file_is_an_error_naming_its_event_line(tmp_path):
    root = tut_layout(tmp_path)
    (root / "audio" / "street" / "b.wav").unlink()

    with pytest.raises(DataError) as caught:
        _load("TUTSound", tmp_path)

    message = str(caught.value)
    assert "street_fold1_evaluate.txt:1" in message and "b.wav" in message and "\n" not in message


def test_tutsound_missing_fold_list_is_an_error(tmp_path):
    root = tut_layout(tmp_path)
    (root / "evaluation_setup" / "street_fold4_evaluate.txt").unlink()

    with pytest.raises(DataError, match="event list not found: .*street_fold4_evaluate.txt"):
        _load("TUTSound", tmp_path)


def test_generated_rows_have_no_hub_source(tmp_path):
    tut_layout(tmp_path)

    with pytest.raises(DataError, match="reads local data; it has no hub source"):
        load_task_data(TaskIndex().tasks["TUTSound"].spec, tmp_path, "hub", None)


def test_candidate_windows_survive_the_json_round_trip_exactly(tmp_path):
    # The items template writes the windows with tojson; Python's float repr round-trips exactly.
    values = [0.1 * 3, 2.0 + 0.05, 1 / 3]
    assert json.loads(json.dumps(values)) == values


# --- the format features these tasks use ----------------------------------------------------------


def test_an_hf_audio_feature_parquet_is_read_as_its_bytes(tmp_path):
    import datasets

    folder = tmp_path / "audio-tasks" / "nsynth-1k" / "eval"
    folder.mkdir(parents=True)
    table = datasets.Dataset.from_dict(
        {"audio": [{"bytes": _wav_bytes(), "path": "x.wav"}], "label": ["organ"], "label_id": [0]}
    ).cast_column("audio", datasets.Audio())
    table.to_parquet(str(folder / "query.parquet"))

    (query,) = _load("NSynth", tmp_path).queries

    assert query.input.audio.source.data[:4] == b"RIFF"


def test_explode_refuses_a_row_without_a_listed_column(clotho):
    csv = clotho / "audio-tasks" / "clotho" / "clotho_captions_evaluation.csv"
    csv.write_text("file_name,caption_1\na.wav,Rain\n")

    with pytest.raises(DataError, match=r"dataset.explode: missing column 'caption_2'"):
        _load("Clotho", clotho)


def test_the_schema_refuses_generate_beside_files_and_a_relevant_pool_without_corpus():
    from pydantic import ValidationError

    from harness.taskspec.schema import CandidateSpec, DatasetSource

    with pytest.raises(ValidationError, match="give generate alone"):
        DatasetSource(generate={"generator": "ave_split", "file": "x/testSet.txt"}, files=["a.csv"])
    with pytest.raises(ValidationError, match="corpus_pool: relevant needs a corpus"):
        CandidateSpec(columns=["a"], template="x", id_template="x", corpus_pool="relevant")
    with pytest.raises(ValidationError, match="escapes its root"):
        DatasetSource(generate={"generator": "tut_sound_events", "root": "../up", "files": ["a.txt"]})
