"""Paired bootstrap intervals and sign-flip tests, and two runs compared query by query."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from run_folder_factory import Task, hit_tasks, write_run

from harness.cli import main
from harness.leaderboard import EntryError
from harness.leaderboard.paired import compare_runs, task_rng
from harness.leaderboard.run_folder import read_run_folder
from harness.leaderboard.significance import draw, mean_of_tasks, paired_test


def _test(differences, resamples=1000, seed=0, alpha=0.05):
    return paired_test(draw(np.asarray(differences, dtype=float), resamples, np.random.default_rng(seed)), alpha)


# --- the statistics, by hand ---------------------------------------------------------------------


def test_three_equal_improvements_have_exact_p_one_quarter():
    # 8 sign patterns; only +++ and --- reach |mean| = 1.
    result = _test([1.0, 1.0, 1.0])
    assert result.exact and result.p_value == 0.25
    assert not result.significant


def test_exact_p_counts_patterns_reaching_the_observed_mean():
    # Sums over the 4 patterns of (1, 0.5): 1.5, 0.5, -0.5, -1.5; |sum| >= 1.5 twice.
    assert _test([1.0, 0.5]).p_value == 0.5
    # Zeros do not flip: (0.5, -0.1, 0) has sums ±0.4, ±0.6, all reaching 0.4.
    assert _test([0.5, -0.1, 0.0]).p_value == 1.0


def test_identical_queries_give_p_one_and_a_zero_interval():
    result = _test(np.zeros(50))
    assert (result.difference, result.ci_low, result.ci_high, result.p_value) == (0.0, 0.0, 0.0, 1.0)


def test_a_constant_difference_has_that_constant_as_its_interval():
    result = _test(np.full(40, 0.25))
    assert result.ci_low == pytest.approx(0.25) and result.ci_high == pytest.approx(0.25)


def test_monte_carlo_p_is_never_zero_and_a_large_shift_is_significant():
    rng = np.random.default_rng(1)
    differences = 0.3 + rng.normal(0, 0.1, size=200)
    result = _test(differences, resamples=999)
    assert not result.exact
    assert result.p_value == pytest.approx(1 / 1000)
    assert result.significant and result.ci_low > 0.25 and result.ci_high < 0.35


def test_monte_carlo_p_agrees_with_the_exact_one():
    differences = np.array([0.3, -0.1, 0.2, 0.4, -0.2, 0.1, 0.5, 0.0, 0.2, -0.3])
    exact = _test(differences, resamples=4096)  # 2**9 sign patterns <= 4096: every one enumerated
    sampled = _test(differences, resamples=256, seed=3)  # fewer resamples than patterns: sampled
    assert exact.exact and not sampled.exact
    assert abs(exact.p_value - sampled.p_value) < 0.1


def test_draws_are_reproducible_for_a_seed_and_differ_across_seeds():
    differences = np.random.default_rng(0).normal(0.05, 0.3, size=300)
    first, again = _test(differences, seed=7), _test(differences, seed=7)
    other = _test(differences, seed=8)
    assert first == again
    assert (first.ci_low, first.ci_high) != (other.ci_low, other.ci_high)


def test_a_tasks_generator_depends_on_seed_and_task_name_only():
    assert task_rng(0, "a").integers(0, 10**9) == task_rng(0, "a").integers(0, 10**9)
    assert task_rng(0, "a").integers(0, 10**9) != task_rng(0, "b").integers(0, 10**9)


def test_the_mean_over_tasks_weights_tasks_equally_not_queries():
    small = draw(np.array([1.0, 1.0]), 100, np.random.default_rng(0))
    large = draw(np.zeros(6), 100, np.random.default_rng(1))
    pooled = mean_of_tasks([small, large])
    assert pooled.observed == 0.5  # the mean over the 8 queries would be 0.25
    assert np.all(pooled.bootstrap == 0.5)  # each task resampled within itself: constant per task


# --- two runs ------------------------------------------------------------------------------------


@pytest.fixture
def runs(tmp_path):
    rng = np.random.default_rng(0)
    base = (rng.random(200) < 0.5).astype(int)
    better = np.where(rng.random(200) < 0.8, 1, base)  # B fixes most of A's misses, breaks none
    a = write_run(tmp_path / "a", hit_tasks(alpha=base, beta=base[:60]))
    b = write_run(tmp_path / "b", hit_tasks(alpha=better, beta=base[:60]))
    return a, b


def test_two_identical_runs_differ_nowhere_significantly(runs, tmp_path):
    a, _ = runs
    copy = shutil.copytree(a, tmp_path / "a_again")
    result = compare_runs(read_run_folder(a), read_run_folder(copy))
    for row in result.tasks:
        assert row.note == ""  # the per-query means reproduce the score files
        assert row.test.ci_low <= 0 <= row.test.ci_high and not row.test.significant
    assert all(m.test.p_value == 1.0 for m in result.means)


def test_a_systematic_improvement_is_significant_with_an_interval_above_zero(runs):
    result = compare_runs(*(read_run_folder(r) for r in runs), resamples=500, seed=1)
    alpha, beta = result.tasks  # largest |B - A| first
    assert alpha.task == "alpha" and alpha.difference > 0.3
    assert alpha.test.significant and alpha.test.p_value < 0.05 and alpha.test.ci_low > 0
    assert beta.task == "beta" and not beta.test.significant
    overall = result.means[0]
    assert (overall.name, overall.tasks) == ("overall", 2)
    assert overall.test.difference == pytest.approx(alpha.difference / 2)
    assert overall.test.significant and overall.test.ci_low > 0


def test_tasks_with_other_queries_are_shown_but_not_tested(tmp_path):
    hits = [1, 0, 1, 1, 0, 1]
    a = write_run(tmp_path / "a", {**hit_tasks(same=hits, fewer=hits), "moved": Task("image", "X", "hit@1", hits=hits)})
    b_tasks = {
        **hit_tasks(same=hits, fewer=hits[:4]),
        "moved": Task("image", "X", "hit@1", hits=hits, label_prefix="other-query-"),
    }
    b = write_run(tmp_path / "b", b_tasks)
    result = compare_runs(read_run_folder(a), read_run_folder(b))
    rows = {r.task: r for r in result.tasks}
    assert rows["fewer"].test is None and rows["fewer"].note == "not paired: 6 vs 4 queries"
    assert rows["moved"].test is None and rows["moved"].note.startswith("not paired: query 1 differs")
    assert rows["same"].test is not None
    assert result.means[0].tasks == 1
    assert any("not paired: " in note and "fewer" in note and "moved" in note for note in result.notes)


def test_predictions_that_do_not_reproduce_the_score_file_are_named(runs, tmp_path):
    a, b = runs
    pred = b / "alpha_pred.jsonl"
    lines = pred.read_text().splitlines()
    rows = [json.loads(line) for line in lines]
    for row in rows:  # every query now misses
        row["prediction"] = ["other", *row["label"]]
    pred.write_text("".join(json.dumps(row) + "\n" for row in rows))
    result = compare_runs(read_run_folder(a), read_run_folder(b))
    note = next(r.note for r in result.tasks if r.task == "alpha")
    assert note.startswith("B: per-query hit@1 mean 0.000000 does not reproduce the score file's")


def test_cli_compares_two_run_folders_and_marks_significance(runs, capsys):
    a, b = runs
    assert main(["leaderboard", "compare", str(a), str(b), "--bootstrap", "300", "--seed", "5"]) == 0
    out = capsys.readouterr().out
    alpha_line = next(line for line in out.splitlines() if "│ alpha" in line)
    assert "*" in alpha_line and "0.003" in alpha_line  # (1 + 0) / 301
    assert "300 resamples, seed 5" in " ".join(out.split())


def test_cli_json_is_reproducible_for_a_seed(runs, capsys):
    a, b = runs
    outputs = []
    for _ in range(2):
        assert main(["leaderboard", "compare", str(a), str(b), "--json", "--seed", "3", "--bootstrap", "200"]) == 0
        outputs.append(capsys.readouterr().out)
    assert outputs[0] == outputs[1]
    payload = json.loads(outputs[0])
    assert payload["comparison"] == "runs" and payload["seed"] == 3 and payload["resamples"] == 200
    assert payload["tasks"][0]["task"] == "alpha" and payload["tasks"][0]["test"]["significant"] is True


def test_statistics_flags_are_refused_where_there_is_no_paired_test(runs, capsys):
    a, _ = runs
    code = main(["leaderboard", "compare", str(a), "--published", "x@v1", "--bootstrap", "10"])
    assert code == 2
    assert "--bootstrap apply to two run folders only" in capsys.readouterr().err


def test_a_run_folder_against_an_entry_is_pointed_to_published(runs, tmp_path, capsys):
    a, _ = runs
    assert main(["leaderboard", "compare", str(a), str(tmp_path / "entry.json")]) == 2
    err = capsys.readouterr().err
    assert f"is a run folder but {tmp_path / 'entry.json'} is not" in err and "--published" in err


# --- hostile per-query files ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b'{"prediction": ["a"], "label": ["a"], "rel_scores": null, "scores": [NaN]}\n', "NaN is not a JSON number"),
        (b'{"prediction": ["\xff"], "label": ["a"]}\n', "not UTF-8 text"),
        (b'{"prediction": "a", "label": ["a"]}\n', "prediction: expected a list of candidate ids"),
        (b'{"prediction": ["a"], "label": ["a"], "rel_scores": [1, 2]}\n', "rel_scores: 2 grades for 1 labels"),
        (b"[1, 2]\n", "expected a JSON object, got list"),
        (b'{"prediction": ' + b"[" * 40 + b"]" * 40 + b"}\n", "nested deeper than"),
    ],
)
def test_a_bad_prediction_line_is_one_error_naming_file_and_line(runs, content, expected):
    a, b = runs
    (b / "alpha_pred.jsonl").write_bytes(content)
    with pytest.raises(EntryError, match=expected) as error:
        compare_runs(read_run_folder(a), read_run_folder(b))
    assert f"{b / 'alpha_pred.jsonl'}:1: " in str(error.value) and "\n" not in str(error.value)


def test_an_oversized_prediction_file_is_refused_before_it_is_read(runs, monkeypatch):
    a, b = runs
    monkeypatch.setattr("harness.leaderboard.run_folder.MAX_JSONL_FILE_BYTES", 1000)
    with pytest.raises(EntryError, match=r"alpha_pred\.jsonl: larger than the 0 MiB a per-query file may be"):
        compare_runs(read_run_folder(a), read_run_folder(b))


def test_an_overlong_line_is_refused(runs, monkeypatch):
    a, b = runs
    monkeypatch.setattr("harness.leaderboard.run_folder.MAX_JSONL_LINE_BYTES", 20)
    with pytest.raises(EntryError, match=r"alpha_pred\.jsonl:1: line longer than"):
        compare_runs(read_run_folder(a), read_run_folder(b))


def test_missing_per_query_files_are_named(runs, capsys):
    a, b = runs
    (b / "alpha_info.jsonl").unlink()
    assert main(["leaderboard", "compare", str(a), str(b)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "alpha_info.jsonl: cannot read (No such file or directory)" in err
    assert err.count("\n") == 1
