"""TUTSound's candidate segments (harness.data.tut_sound) against values worked out by hand from the
reference's algorithm (VLM2Vec tutsound_dataset.py): segment clamping, IoU, the window walk and ids."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.data.tut_sound import kept_segment, negative_windows, read_events, segment_id, segment_iou
from harness.errors import DataError


def test_a_segment_inside_the_file_is_kept_as_it_is():
    assert kept_segment(0.2, 1.3, 4.0) == (0.2, 1.3)


def test_an_empty_segment_is_widened_to_50_ms():
    assert kept_segment(2.0, 2.0, 4.0) == (2.0, 2.05)


def test_a_segment_past_the_end_is_cut_at_the_end():
    assert kept_segment(3.5, 4.5, 4.0) == (3.5, 4.0)


def test_a_segment_starting_after_the_end_becomes_the_last_50_ms():
    # s=5, e=6 -> e cut to 4.0 <= s -> s = 4.0 - 0.05
    assert kept_segment(5.0, 6.0, 4.0) == (4.0 - 0.05, 4.0)


def test_a_negative_onset_starts_at_zero():
    assert kept_segment(-1.0, 0.5, 4.0) == (0.0, 0.5)


def test_iou_is_intersection_over_the_span_of_both():
    assert segment_iou(1.0, 2.0, 0.2, 1.3) == pytest.approx(0.3 / 1.8)
    assert segment_iou(0.0, 1.0, 2.0, 3.0) == 0.0
    assert segment_iou(1.0, 1.0, 1.0, 1.0) == 0.0  # empty union


def test_windows_are_the_earliest_one_second_steps_clear_of_every_event():
    # 4 s file, events (0.2, 1.3), (2.0, 2.05), (3.5, 4.0); windows t = 0, 0.5, ..., 3.0:
    # t=0: IoU with (0.2,1.3) = 0.8/1.3; t=0.5: 0.8/1.3; t=1.0: 0.3/1.8 = 0.167 -> all >= 0.1.
    # t=1.5: 0, 0.05/1.0, 0 -> kept; t=2.0: 0.05/1.0 -> kept; t=2.5: 0 -> kept; t=3.0: 0.5/1.0.
    segments = [(0.2, 1.3), (2.0, 2.05), (3.5, 4.0)]

    assert negative_windows(4.0, segments, 1.0, 0.5, 0.1, 50) == [(1.5, 2.5), (2.0, 3.0), (2.5, 3.5)]
    assert negative_windows(4.0, segments, 1.0, 0.5, 0.1, 2) == [(1.5, 2.5), (2.0, 3.0)]


def test_a_file_shorter_than_a_window_has_no_windows():
    assert negative_windows(0.5, [(0.1, 0.3)], 1.0, 0.5, 0.1, 50) == []


def test_the_window_start_is_accumulated_as_the_reference_adds_the_stride():
    # 0.1 added ten times is 0.9999999999999999, not 1.0: the reference's t += stride.
    windows = negative_windows(1.6, [], 0.5, 0.1, 0.1, 0)
    starts = [start for start, _ in windows]
    t, expected = 0.0, []
    while t + 0.5 <= 1.6:
        expected.append(t)
        t += 0.1
    assert starts == expected and 0.9999999999999999 in starts


def test_segment_ids_round_to_milliseconds():
    assert segment_id("audio/street/a001.wav", 2.0, 2.05) == "audio/street/a001.wav|2.000-2.050"
    assert segment_id("a.wav", 1.23456, 10.0) == "a.wav|1.235-10.000"


def test_a_line_without_five_fields_is_an_error_naming_file_and_line(tmp_path: Path):
    listing = tmp_path / "street_fold1_evaluate.txt"
    listing.write_text("audio/a.wav\tstreet\t0.1\t0.5\tcar\naudio/a.wav street 0.1\n")

    with pytest.raises(DataError) as caught:
        read_events(listing)

    assert str(caught.value).startswith(f"{listing}:2: ") and "\n" not in str(caught.value)


def test_a_time_that_is_no_number_is_an_error_naming_file_and_line(tmp_path: Path):
    listing = tmp_path / "street_fold1_evaluate.txt"
    listing.write_text("\naudio/a.wav\tstreet\tsoon\t0.5\tcar\n")

    with pytest.raises(DataError, match=r"street_fold1_evaluate.txt:2: onset and offset must be numbers"):
        read_events(listing)


def test_tab_separated_labels_keep_their_spaces(tmp_path: Path):
    listing = tmp_path / "list.txt"
    listing.write_text("audio/a.wav\tstreet\t0.1\t0.5\tpeople walking\n")

    (event,) = read_events(listing)

    assert (event.file, event.scene, event.onset, event.offset, event.label) == (
        "audio/a.wav",
        "street",
        0.1,
        0.5,
        "people walking",
    )


@pytest.mark.parametrize("onset, offset", [("nan", "0.5"), ("0.1", "NaN"), ("inf", "0.5"), ("0.1", "-inf")])
def test_a_time_that_is_not_finite_is_an_error_naming_file_and_line(tmp_path: Path, onset: str, offset: str):
    # float() reads these; kept as they are, a NaN onset became 0 (max(0.0, nan) is 0.0) and an
    # infinite one the file's last 50 ms: an event the list never named.
    listing = tmp_path / "street_fold1_evaluate.txt"
    listing.write_text(f"audio/a.wav\tstreet\t0.1\t0.5\tcar\naudio/a.wav\tstreet\t{onset}\t{offset}\tcar\n")

    with pytest.raises(DataError, match=r"street_fold1_evaluate.txt:2: onset and offset must be finite numbers"):
        read_events(listing)
