"""A run of ours against published numbers (``compare RUN --published``), and against a real demo run."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from run_folder_factory import Task, write_run

from harness.cli import main
from harness.leaderboard import EntryError, list_entries
from harness.leaderboard.compare import compare_tables
from harness.leaderboard.paired import compare_runs
from harness.leaderboard.published import resolve_published
from harness.leaderboard.run_folder import read_run_folder, read_scores

REPO = Path(__file__).resolve().parent.parent
BOARD = REPO / "leaderboard"
VLM2VEC = "VLM2Vec-V2.0-Qwen2VL-2B@v2.0.0"


@pytest.fixture(scope="module")
def published():
    """The imported VLM2Vec-V2.0 entry of the paper's score set: task -> (modality, result)."""
    (stored,) = [
        s
        for s in list_entries(BOARD)
        if s.entry.model.name == "VLM2Vec-V2.0-Qwen2VL-2B" and s.entry.benchmark.version == "v2.0.0"
    ]
    return stored.entry.tasks()


def _task(published, name, score=None, num_queries=None):
    modality, result = published[name]
    return Task(
        modality,
        result.meta_task,
        result.main_metric,
        score=result.main_score if score is None else score,
        num_queries=result.num_queries if num_queries is None else num_queries,
    )


def _no_catalogue():
    raise AssertionError("the task files are read only for a reference score file")


@pytest.fixture
def run(tmp_path, published):
    """Four published numbers copied, one changed by +10 points, one with half the queries."""
    tasks = {
        "ImageNet-1K": _task(published, "ImageNet-1K"),
        "HatefulMemes": _task(published, "HatefulMemes", score=published["HatefulMemes"][1].main_score + 0.1),
        "N24News": _task(published, "N24News", num_queries=500),
        "ViDoRe_arxivqa": _task(published, "ViDoRe_arxivqa"),
        "K700": _task(published, "K700"),
        "my_own_task": Task("image", "I-CLS", "hit@1", score=0.5),
    }
    return write_run(tmp_path / "run", tasks)


def _comparison(run, reference=VLM2VEC):
    return compare_tables(read_scores(run), resolve_published(reference, BOARD, _no_catalogue))


def test_published_numbers_copied_into_a_run_show_no_gap_and_a_changed_task_comes_first(run):
    result = _comparison(run)
    first, *rest = result.tasks
    assert (first.task, first.metric) == ("HatefulMemes", "hit@1")
    assert first.gap == pytest.approx(0.1)
    assert {g.task for g in rest} == {"ImageNet-1K", "N24News", "ViDoRe_arxivqa", "K700"}
    assert all(g.gap == 0 for g in rest)
    assert next(g for g in rest if g.task == "ViDoRe_arxivqa").metric == "ndcg_linear@5"


def test_a_query_count_that_differs_from_num_data_is_named(run):
    notes = {g.task: g.note for g in _comparison(run).tasks}
    assert notes["N24News"] == "num_data 500 vs 1000"
    assert notes["ImageNet-1K"] == ""


def test_means_are_over_the_shared_tasks_only(run, published):
    result = _comparison(run)
    means = {(m.kind, m.name): m for m in result.means}
    shared = ["ImageNet-1K", "HatefulMemes", "N24News", "ViDoRe_arxivqa", "K700"]
    theirs = sum(published[t][1].main_score for t in shared) / 5
    assert means[("overall", "overall")].tasks == 5
    assert means[("overall", "overall")].theirs == pytest.approx(theirs)  # not the entry's 78-task 0.580
    assert means[("overall", "overall")].gap == pytest.approx(0.1 / 5)
    assert means[("modality", "image")].tasks == 3 and means[("modality", "image")].gap == pytest.approx(0.1 / 3)
    assert means[("meta_task", "V-CLS")].tasks == 1 and means[("meta_task", "V-CLS")].gap == 0
    assert result.only_ours == ["my_own_task"]
    assert len(result.only_theirs) == 78 - 5


def test_a_limited_run_is_compared_with_a_clear_note(tmp_path, published):
    run = write_run(tmp_path / "limited", {"ImageNet-1K": _task(published, "ImageNet-1K", num_queries=50)}, limit=50)
    result = _comparison(run)
    assert [g.task for g in result.tasks] == ["ImageNet-1K"]
    assert any("limited to 50 per task (--limit)" in n and "not comparable" in n for n in result.notes)


def test_cli_prints_gaps_largest_first_with_the_limit_note(tmp_path, published, capsys):
    run = write_run(
        tmp_path / "limited",
        {
            "ImageNet-1K": _task(published, "ImageNet-1K", score=0.5, num_queries=20),
            "K700": _task(published, "K700", num_queries=20),
        },
        limit=20,
    )
    assert main(["leaderboard", "compare", str(run), "--published", VLM2VEC, "--dir", str(BOARD)]) == 0
    out = capsys.readouterr().out
    rows = [line for line in out.splitlines() if line.startswith("│ ")]
    assert rows[0].startswith("│ ImageNet-1K") and "-30.8" in rows[0] and "num_data 20 vs 1000" in rows[0]
    assert rows[1].startswith("│ K700") and "+0.0" in rows[1]
    assert "note: " in out and "(--limit)" in out
    assert "only published (76): " in out


def test_cli_json_output(run, capsys):
    assert main(["leaderboard", "compare", str(run), "--published", VLM2VEC, "--dir", str(BOARD), "--json"]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert payload["comparison"] == "published"
    assert payload["tasks"][0]["task"] == "HatefulMemes" and payload["tasks"][0]["gap"] == pytest.approx(0.1)
    assert payload["means"][0]["name"] == "overall" and payload["means"][0]["tasks"] == 5


def test_a_reference_score_file_is_read_with_the_importers_key_mapping(run, tmp_path):
    # The reference's own format; its v2.1 export names ViDoSeek-page "ViDoSeek-page-fixed".
    folder = tmp_path / "scores"
    folder.mkdir()
    metrics = {
        "image": {"ImageNet-1K": {"hit@1": 0.7, "hit@5": 0.9, "num_pred": 1000, "num_data": 1000}},
        "visdoc": {"ViDoSeek-page-fixed": {"ndcg_linear@5": 0.4, "num_pred": 100, "num_data": 100}},
    }
    path = folder / "model.json"
    path.write_text(
        json.dumps({"metadata": {"model_name": "Some-Model", "report_generated_date": "2025"}, "metrics": metrics})
    )
    seen = shutil.copytree(run, tmp_path / "with_vidoseek")
    write_run(seen, {"ViDoSeek-page": Task("visdoc", "VD-ViDoSeek", "ndcg_linear@5", score=0.5, num_queries=100)})
    from harness.cli.leaderboard_io import task_catalogue
    from harness.taskspec import TaskIndex

    table = resolve_published(str(path), BOARD, lambda: task_catalogue(TaskIndex(), "mmeb_v2"))
    assert set(table.tasks) == {"ImageNet-1K", "ViDoSeek-page"} and "Some-Model" in table.label
    result = compare_tables(read_scores(seen), table)
    assert [(g.task, round(g.gap, 6)) for g in result.tasks] == [("ViDoSeek-page", 0.1)]


def test_an_entry_file_can_be_the_published_side(run):
    path = BOARD / "entries" / "mmeb_v2@v2.0.1" / "VLM2Vec-V2.0-Qwen2VL-2B.json"
    table = resolve_published(str(path), BOARD, _no_catalogue)
    assert "mmeb_v2@v2.0.1" in table.label and len(table.tasks) == 78


def test_an_unknown_model_or_version_lists_what_the_folder_has(run):
    with pytest.raises(EntryError, match=r"no entry of model 'VLM2Vec-V2.0-Qwen2VL-2B' on 'v9'.*mmeb_v2@v2\.0\.0, "):
        resolve_published("VLM2Vec-V2.0-Qwen2VL-2B@v9", BOARD, _no_catalogue)
    with pytest.raises(EntryError, match=r"no such file, and not MODEL@VERSION"):
        resolve_published("VLM2Vec-V2.0-Qwen2VL-2B", BOARD, _no_catalogue)


# --- hostile run folders -------------------------------------------------------------------------


def test_a_folder_without_a_run_file_is_refused(tmp_path):
    with pytest.raises(EntryError, match=r"no leaderboard\.json \(the run file `harness run` writes\)"):
        read_run_folder(tmp_path)


def test_a_score_file_that_disagrees_with_the_run_file_is_refused(run):
    path = run / "K700_score.json"
    payload = json.loads(path.read_text())
    payload["hit@1"] = 0.99
    path.write_text(json.dumps(payload))
    with pytest.raises(EntryError, match=r"K700_score\.json: hit@1 is 0\.99 but leaderboard\.json has 0\.38"):
        read_run_folder(run)


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (lambda text: text.replace('"overall": ', '"overall": NaN, "x": ', 1), "NaN is not a JSON number"),
        (lambda text: text.replace('"main_score": 0.5', '"main_score": "0.5"', 1), r"main_score: Input should be"),
        (lambda text: text + " " * (5 << 20), r"larger than the 4 MiB"),
    ],
)
def test_a_bad_run_file_is_one_error_line(run, mutate, expected, capsys):
    path = run / "leaderboard.json"
    path.write_text(mutate(path.read_text()))
    assert main(["leaderboard", "compare", str(run), "--published", VLM2VEC, "--dir", str(BOARD)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and str(path) in err
    assert pytest.importorskip("re").search(expected, err)


def test_a_task_name_that_is_not_a_file_name_is_refused(run):
    path = run / "leaderboard.json"
    payload = json.loads(path.read_text())
    payload["tasks"]["../../etc/passwd"] = payload["tasks"].pop("K700")
    path.write_text(json.dumps(payload))
    with pytest.raises(Exception, match=r"is not a plain file name"):
        read_run_folder(run)


def test_a_non_utf8_score_file_is_refused(run):
    (run / "K700_score.json").write_bytes(b'{"hit@1": "\xff"}')
    with pytest.raises(EntryError, match=r"K700_score\.json: not UTF-8 text"):
        read_run_folder(run)


# --- a real demo run, so the formats cannot drift ------------------------------------------------


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo") / "out"
    assert main(["run", "--output_path", str(out)]) == 0
    return out


def test_a_demo_run_against_its_own_entry_has_no_gap(demo_run):
    theirs = resolve_published(str(demo_run / "leaderboard_entry.json"), BOARD, _no_catalogue)
    result = compare_tables(read_scores(demo_run), theirs)
    assert len(result.tasks) == 3 and all(g.gap == 0 and g.note == "" for g in result.tasks)
    assert result.only_ours == [] and result.only_theirs == []


def test_a_demo_run_against_its_copy_reproduces_every_score_and_differs_nowhere(demo_run, tmp_path):
    copy = shutil.copytree(demo_run, tmp_path / "copy")
    result = compare_runs(read_run_folder(demo_run), read_run_folder(copy), resamples=200)
    assert len(result.tasks) == 3
    for row in result.tasks:
        assert row.note == ""  # the per-query means of the real _pred.jsonl reproduce _score.json
        assert row.test is not None and row.test.p_value == 1.0 and row.test.ci_low == row.test.ci_high == 0
