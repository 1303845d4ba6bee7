"""The README's offline Python API example and docs/data.md's own-files task file work as written."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def code_blocks(path: Path, language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", path.read_text(encoding="utf-8"), flags=re.S)


def test_the_readme_demo_example_runs_and_returns_the_run(tmp_path: Path, monkeypatch, capsys):
    (example,) = [block for block in code_blocks(ROOT / "README.md", "python") if "demo_paths" in block]
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    exec(compile(example, "README.md", "exec"), namespace)  # noqa: S102 - our own documentation
    result = namespace["result"]
    printed = capsys.readouterr().out.splitlines()
    assert set(result.run_file.tasks) == {"demo_shape_color_cls", "demo_text_to_image", "demo_image_to_text_global"}
    assert len(printed) == len(result.run_file.tasks) + 1 and printed[-1].startswith("overall ")
    assert result.run_file.overall is not None
    assert result.output_dir == Path("results/demo-api") and (tmp_path / "results/demo-api/leaderboard.json").is_file()
    for name, task in result.run_file.tasks.items():
        assert (tmp_path / "results/demo-api" / f"{name}_score.json").is_file()
        assert 0.0 <= task.main_score <= 1.0


def test_the_own_files_task_file_of_docs_data_loads(tmp_path: Path):
    from harness.taskspec.index import load_task_file
    from harness.taskspec.schema import TaskSpec

    (block,) = [b for b in code_blocks(ROOT / "docs" / "data.md", "yaml") if "MyArxiv" in b]
    path = tmp_path / "MyArxiv.yaml"
    path.write_text(block)
    spec = load_task_file(path).spec
    assert isinstance(spec, TaskSpec) and spec.task == "MyArxiv"
    assert spec.dataset.files == ["mine/arxivqa/queries.jsonl"] and spec.dataset.path is None
    assert spec.candidates.corpus is not None and spec.candidates.corpus.path is None
    assert spec.candidates.template.endswith("Understand the content of the provided document image.")


def test_the_readme_eval_yaml_example_loads(tmp_path: Path):
    from harness.cli.reference_entries import load_dataset_config
    from harness.taskspec import TaskIndex

    (block,) = [b for b in code_blocks(ROOT / "README.md", "yaml") if "MyCLS" in b]
    path = tmp_path / "eval.yaml"
    path.write_text(block)
    tasks = load_dataset_config(path, TaskIndex()).tasks
    assert [t.spec.task for t in tasks] == ["MyCLS", "MyDocs"]
    assert tasks[1].spec.candidates.corpus is not None
    assert tasks[1].spec.candidates.corpus.files == ["my-data/MyDocs/corpus*"]
