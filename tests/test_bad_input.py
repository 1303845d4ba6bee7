"""Bad input gives one clear line on stderr, exit status 2 and no traceback.

Every test runs the real command line in-process (``harness.cli.main``) and checks the facts the
line must name: file and line and key for task files; task, row and path for data; the model
name or argument for models. Tasks finished before a failure keep their result files.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import TINY_MODEL_ARGS, write_task

from harness.cli import main
from harness.errors import HarnessError

IMAGENET_ROWS = "MMEB_Test_Instruct/ImageNet-1K/test.jsonl"

# A valid task file with known line numbers; tests break one line of it.
TASK_YAML = """\
task: broken
version: "1.0"
modality: image
dataset:
  files: ["MMEB_Test_Instruct/ImageNet-1K/test.jsonl"]
media_root: image-tasks/
ranking: local
query:
  image_column: qry_img_path
  template: "{{ IMAGE }} {{ qry_inst }}"
candidates:
  columns: [tgt_text, tgt_img_path]
  template: "{{ cand.tgt_text }}"
  id_template: "{{ cand.tgt_text }}"
relevance:
  kind: first_candidate
"""
LINE_OF = {line.split(":")[0].strip(): number for number, line in enumerate(TASK_YAML.splitlines(), 1)}


def task_text(**replace: str) -> str:
    """``TASK_YAML`` with exact text replaced: ``task_text(**{"old text": "new text"})``."""
    text = TASK_YAML
    for old, new in replace.items():
        assert old in text
        text = text.replace(old, new)
    return text


def write_text(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def one_error_line(capsys: pytest.CaptureFixture[str], argv: list[str]) -> str:
    """Run the CLI; assert exit 2, no traceback and exactly one ``error:`` line, last on stderr."""
    status = main(argv)
    out, err = capsys.readouterr()
    assert status == 2, f"exit status {status}; stderr:\n{err}"
    assert "Traceback" not in out + err
    errors = [line for line in err.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1, err
    assert err.rstrip().splitlines()[-1] == errors[0], err  # nothing after it
    return errors[0].removeprefix("error: ")


def run_args(tasks: str, *, data: Path, out: Path, include: Path | None = None, model_args: str = "") -> list[str]:
    argv = ["run", "--model", "vlm2vec", "--tasks", tasks, "--device", "cpu"]
    argv += ["--data_basedir", str(data), "--output_path", str(out)]
    if include is not None:
        argv += ["--include_path", str(include)]
    if model_args:
        argv += ["--model_args", model_args]
    return argv


@pytest.fixture
def tiny_args(tiny_checkpoint: Path) -> str:
    return f"pretrained={tiny_checkpoint},{TINY_MODEL_ARGS}"


@pytest.fixture
def run_user_task(tmp_path: Path, mmeb_basedir: Path, tiny_args: str, capsys: pytest.CaptureFixture[str]):
    """Run tasks from ``tmp_path/tasks`` on the MMEB data folder with the tiny model; return the error."""

    def run(tasks: str) -> str:
        argv = run_args(
            tasks, data=mmeb_basedir, out=tmp_path / "out", include=tmp_path / "tasks", model_args=tiny_args
        )
        return one_error_line(capsys, argv)

    return run


@pytest.fixture
def bad_rows(mmeb_basedir: Path):
    """Write ``bad/<name>.jsonl`` under the data folder: a good row (line 1), then the same row
    with ``changes`` applied (line 2; a ``None`` value drops the column). Returns its relative path."""

    def write(name: str, **changes: object) -> str:
        first = json.loads((mmeb_basedir / IMAGENET_ROWS).read_text().splitlines()[0])
        second = {key: value for key, value in {**first, **changes}.items() if value is not None}
        relative = f"bad/{name}.jsonl"
        write_text(mmeb_basedir / relative, json.dumps(first) + "\n" + json.dumps(second) + "\n")
        return relative

    return write


def fail_task_file(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, text: str, name: str = "broken.yaml"
) -> tuple[Path, str]:
    """Write a task file, select it with ``--tasks <path>`` and return (resolved path, error)."""
    path = write_text(tmp_path / "tasks" / name, text).resolve()
    return path, one_error_line(capsys, run_args(str(path), data=tmp_path, out=tmp_path / "out"))


# --- task names ---------------------------------------------------------------------------------


def test_unknown_task_name_suggests_the_closest_names(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    message = one_error_line(capsys, run_args("ImageNet1K", data=tmp_path, out=tmp_path / "out"))

    assert message.startswith("unknown task, group or tag 'ImageNet1K'; did you mean 'ImageNet-1K'")


@pytest.mark.parametrize("name", ["imagenet-1k", "IMAGENET-1K", "Imagenet-1k"])
def test_unknown_task_name_suggestion_ignores_case(name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    message = one_error_line(capsys, run_args(name, data=tmp_path, out=tmp_path / "out"))

    assert message.startswith(f"unknown task, group or tag '{name}'; did you mean 'ImageNet-1K'")


def test_unknown_group_member_names_the_group_and_its_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    write_task(tmp_path / "tasks", "real")
    group = write_text(
        tmp_path / "tasks" / "g.yaml", "group: g\nversion: 1\naggregate: mean_of_tasks\ntask: [real, raal]\n"
    )

    message = one_error_line(capsys, run_args("g", data=tmp_path, out=tmp_path / "out", include=tmp_path / "tasks"))

    assert message.startswith(
        f"unknown task, group or tag 'raal' (member of group 'g' in {group}); did you mean 'real'"
    )


def test_missing_task_file_path_is_named(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    missing = tmp_path / "nowhere.yaml"

    message = one_error_line(capsys, run_args(str(missing), data=tmp_path, out=tmp_path / "out"))

    assert message == f"{missing}: no such task file"


# --- YAML ---------------------------------------------------------------------------------------


def test_malformed_yaml_names_file_and_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    text = task_text(**{"ranking: local": "ranking: [local"})

    path, message = fail_task_file(capsys, tmp_path, text)

    assert message.startswith(f"{path}:{LINE_OF['ranking'] + 1}: malformed YAML: ")


def test_tab_indentation_is_malformed_yaml_with_its_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    text = task_text(**{"  kind: first_candidate": "\tkind: first_candidate"})

    path, message = fail_task_file(capsys, tmp_path, text)

    assert message.startswith(f"{path}:{LINE_OF['kind']}: malformed YAML: ")


def test_python_object_tag_is_malformed_yaml_and_is_not_executed(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    marker = tmp_path / "pwned"
    text = task_text(**{'version: "1.0"': f'version: !!python/object/apply:os.system ["touch {marker}"]'})

    path, message = fail_task_file(capsys, tmp_path, text)

    assert message.startswith(f"{path}:{LINE_OF['version']}: malformed YAML: could not determine a constructor")
    assert "python/object/apply:os.system" in message
    assert not marker.exists()


def test_duplicate_key_names_file_line_and_key(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    text = task_text(**{"ranking: local": "ranking: local\nranking: global"})

    path, message = fail_task_file(capsys, tmp_path, text)

    assert message == f"{path}:{LINE_OF['ranking'] + 1}: ranking: duplicate key"


# --- schema -------------------------------------------------------------------------------------


def test_unknown_key_names_file_line_and_dotted_key(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    text = task_text(**{'  template: "{{ IMAGE }}': '  templat: "{{ IMAGE }}'})

    path, message = fail_task_file(capsys, tmp_path, text)

    assert message == f"{path}:{LINE_OF['query'] + 2}: query.templat: unknown key; did you mean 'template'?"


def test_unknown_top_level_key_names_it(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    path, message = fail_task_file(capsys, tmp_path, TASK_YAML + "querry:\n  template: x\n")

    assert message == f"{path}:{LINE_OF['kind'] + 1}: querry: unknown key"


def test_missing_required_key_names_it(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    text = task_text(**{"ranking: local\n": ""})

    path, message = fail_task_file(capsys, tmp_path, text)

    assert message == f"{path}:1: ranking: required key is missing"


def test_missing_nested_required_key_names_its_mapping_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    text = task_text(**{'  id_template: "{{ cand.tgt_text }}"\n': ""})

    path, message = fail_task_file(capsys, tmp_path, text)

    assert message == f"{path}:{LINE_OF['candidates']}: candidates.id_template: required key is missing"


def test_missing_key_of_a_relevance_kind_names_it(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    text = task_text(**{"  kind: first_candidate": "  kind: id_template"})

    path, message = fail_task_file(capsys, tmp_path, text)

    assert message == f"{path}:{LINE_OF['relevance']}: relevance.template: required key is missing"


def test_unknown_relevance_kind_lists_the_known_kinds(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    text = task_text(**{"  kind: first_candidate": "  kind: best_guess"})

    path, message = fail_task_file(capsys, tmp_path, text)

    assert message.startswith(f"{path}:{LINE_OF['relevance']}: relevance: Input tag 'best_guess' ")
    assert "'first_candidate', 'id_template'" in message


def test_wrong_type_names_file_line_key_and_expected_type(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    text = task_text(**{"  columns: [tgt_text, tgt_img_path]": "  columns: tgt_text"})

    path, message = fail_task_file(capsys, tmp_path, text)

    assert message == f"{path}:{LINE_OF['columns']}: candidates.columns: Input should be a valid list"


def test_wrong_literal_value_lists_the_allowed_values(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    text = task_text(**{"ranking: local": "ranking: sideways"})

    path, message = fail_task_file(capsys, tmp_path, text)

    assert message == f"{path}:{LINE_OF['ranking']}: ranking: Input should be 'local' or 'global'"


# --- include: -----------------------------------------------------------------------------------


def test_include_cycle_names_the_include_line_and_the_cycle(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    first = (tmp_path / "tasks" / "broken.yaml").resolve()
    second = write_text(tmp_path / "tasks" / "_second.yaml", "# shared\ninclude: broken.yaml\n").resolve()

    path, message = fail_task_file(capsys, tmp_path, "include: _second.yaml\n" + TASK_YAML)

    assert path == first
    assert message == f"{second}:2: include: include cycle: {first} -> {second} -> {first}"


def test_include_of_a_missing_file_names_file_line_and_include(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    path, message = fail_task_file(capsys, tmp_path, TASK_YAML + "include: _nowhere.yaml\n")

    assert message == f"{path}:{LINE_OF['kind'] + 1}: include: no such file '_nowhere.yaml'"


# --- templates ----------------------------------------------------------------------------------


def test_template_syntax_error_names_file_and_line_of_the_key(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    text = task_text(**{'  template: "{{ IMAGE }} {{ qry_inst }}"': '  template: "{{ IMAGE }} {{ qry_inst "'})

    path, message = fail_task_file(capsys, tmp_path, text)

    assert message.startswith(f"{path}:{LINE_OF['query'] + 2}: query.template: template syntax error: ")


def test_unknown_template_variable_names_the_row_and_lists_the_columns(
    tmp_path: Path, mmeb_basedir: Path, run_user_task
):
    write_task(tmp_path / "tasks", "typo", query={"template": "{{ IMAGE }} {{ qry_txt }}"})

    message = run_user_task("typo")

    assert message == (
        f"task 'typo', {mmeb_basedir / IMAGENET_ROWS}:1: query.template: 'qry_txt' is undefined "
        "(columns: qry_img_path, qry_inst, qry_text, tgt_img_path, tgt_inst, tgt_text)"
    )


@pytest.mark.parametrize(
    "template",
    [
        "{{ ''.__class__.__mro__ }}",
        "{{ ''.__class__.__mro__[1].__subclasses__() }}",
        "{{ cycler.__init__.__globals__.os.system('touch MARKER') }}",
        "{{ qry_inst.__class__.__base__.__subclasses__() }}",
    ],
)
def test_sandbox_refuses_attribute_tricks_without_running_them(
    template: str, tmp_path: Path, mmeb_basedir: Path, run_user_task
):
    marker = tmp_path / "pwned"
    write_task(tmp_path / "tasks", "evil", query={"template": template.replace("MARKER", str(marker))})

    message = run_user_task("evil")

    assert message.startswith(f"task 'evil', {mmeb_basedir / IMAGENET_ROWS}:1: query.template: ")
    assert "template not allowed by the sandbox" in message
    assert "is unsafe" in message
    assert not marker.exists()
    assert not (tmp_path / "out" / "evil_score.json").exists()


# --- rows ---------------------------------------------------------------------------------------


def test_missing_column_names_the_row_and_the_column(tmp_path: Path, mmeb_basedir: Path, bad_rows, run_user_task):
    write_task(tmp_path / "tasks", "nocol", dataset={"files": [bad_rows("nocol", tgt_img_path=None)]})

    message = run_user_task("nocol")

    assert message == (
        f"task 'nocol', {mmeb_basedir / 'bad/nocol.jsonl'}:2: candidates.columns: missing column 'tgt_img_path' "
        "(columns: qry_img_path, qry_inst, qry_text, tgt_inst, tgt_text)"
    )


def test_candidate_lists_of_different_lengths_name_the_row_and_the_lengths(
    tmp_path: Path, mmeb_basedir: Path, bad_rows, run_user_task
):
    rows = bad_rows("ragged", tgt_img_path=["", ""])
    write_task(tmp_path / "tasks", "ragged", dataset={"files": [rows]})

    message = run_user_task("ragged")

    assert message == (
        f"task 'ragged', {mmeb_basedir / rows}:2: candidates.columns: candidate lists differ in length: "
        "{'tgt_text': 4, 'tgt_img_path': 2}"
    )


def test_invalid_json_row_names_file_and_line(tmp_path: Path, mmeb_basedir: Path, run_user_task):
    rows = write_text(mmeb_basedir / "bad" / "notjson.jsonl", (mmeb_basedir / IMAGENET_ROWS).read_text() + "{oops\n")
    write_task(tmp_path / "tasks", "notjson", dataset={"files": ["bad/notjson.jsonl"]})

    message = run_user_task("notjson")

    assert message.startswith(f"{rows}:5: not valid JSON: ")


def test_row_that_is_not_utf8_names_file_and_line(tmp_path: Path, mmeb_basedir: Path, run_user_task):
    rows = mmeb_basedir / "bad" / "latin1.jsonl"
    rows.parent.mkdir(parents=True)
    rows.write_bytes((mmeb_basedir / IMAGENET_ROWS).read_bytes().replace(b"red square", b"rouge \xe9", 1))
    write_task(tmp_path / "tasks", "latin1", dataset={"files": ["bad/latin1.jsonl"]})

    message = run_user_task("latin1")

    assert message.startswith(f"{rows}:1: not UTF-8 text: ")


# --- media --------------------------------------------------------------------------------------


def test_missing_image_names_the_row_and_the_path(tmp_path: Path, mmeb_basedir: Path, bad_rows, run_user_task):
    rows = bad_rows("noimage", qry_img_path="synthetic/not_there.png")
    write_task(tmp_path / "tasks", "noimage", dataset={"files": [rows]})

    message = run_user_task("noimage")

    assert message == (
        f"task 'noimage', {mmeb_basedir / rows}:2: query.image_column: media file not found: "
        f"{mmeb_basedir / 'image-tasks/synthetic/not_there.png'}"
    )


def test_corrupt_image_names_the_row_and_the_path_at_encode_time(
    tmp_path: Path, mmeb_basedir: Path, bad_rows, run_user_task
):
    corrupt = write_text(mmeb_basedir / "image-tasks" / "synthetic" / "corrupt.png", "\x89PNG but then garbage bytes")
    rows = bad_rows("corrupt", qry_img_path="synthetic/corrupt.png")
    write_task(tmp_path / "tasks", "corrupt", dataset={"files": [rows]})

    message = run_user_task("corrupt")

    assert message.startswith(f"task 'corrupt', {mmeb_basedir / rows}:2: cannot read image {corrupt}: ")


@pytest.mark.parametrize("pattern", ["../../etc/passwd", "/etc/passwd", "MMEB_Test_Instruct/../../outside.jsonl"])
def test_dataset_file_escaping_the_data_folder_is_refused_with_file_and_line(
    pattern: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    text = task_text(**{'  files: ["MMEB_Test_Instruct/ImageNet-1K/test.jsonl"]': f'  files: ["{pattern}"]'})

    path, message = fail_task_file(capsys, tmp_path, text)

    assert message.startswith(f"{path}:{LINE_OF['files']}: dataset.files: data file pattern '{pattern}' ")
    assert message.endswith(("escapes its root folder", "must be a relative path"))


@pytest.mark.parametrize("root", ["../..", "/etc", "image-tasks/../../"])
def test_media_root_escaping_the_data_folder_is_refused_with_file_and_line(
    root: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    text = task_text(**{"media_root: image-tasks/": f"media_root: {root}"})

    path, message = fail_task_file(capsys, tmp_path, text)

    assert message.startswith(f"{path}:{LINE_OF['media_root']}: media_root: media_root '{root}' ")


@pytest.mark.parametrize(
    ("image", "problem"),
    [
        ("../../etc/passwd", "escapes its root"),
        ("synthetic/../../../etc/passwd", "escapes its root"),
        ("/etc/passwd", "must be relative to"),
    ],
)
def test_media_path_in_a_row_escaping_the_media_root_names_the_row_and_path(
    image: str,
    problem: str,
    tmp_path: Path,
    mmeb_basedir: Path,
    bad_rows,
    run_user_task,
):
    rows = bad_rows("escape", qry_img_path=image)
    write_task(tmp_path / "tasks", "escape", dataset={"files": [rows]})

    message = run_user_task("escape")

    assert message.startswith(
        f"task 'escape', {mmeb_basedir / rows}:2: query.image_column: media path '{image}' {problem}"
    )


# --- models -------------------------------------------------------------------------------------


@pytest.fixture
def valid_task(tmp_path: Path) -> Path:
    """A folder holding one valid task named ``ok`` (for model errors, which come first)."""
    write_task(tmp_path / "tasks", "ok")
    return tmp_path / "tasks"


def test_unknown_model_name_lists_the_known_ones(
    tmp_path: Path, mmeb_basedir: Path, valid_task: Path, capsys: pytest.CaptureFixture[str]
):
    argv = run_args("ok", data=mmeb_basedir, out=tmp_path / "out", include=valid_task)
    argv[argv.index("vlm2vec")] = "nope"

    message = one_error_line(capsys, argv)

    assert message.startswith("unknown model 'nope' (known: ")
    assert "vlm2vec" in message


def test_unknown_model_arg_lists_the_valid_ones(
    tmp_path: Path, mmeb_basedir: Path, valid_task: Path, capsys: pytest.CaptureFixture[str]
):
    message = one_error_line(
        capsys, run_args("ok", data=mmeb_basedir, out=tmp_path / "out", include=valid_task, model_args="bogus=1")
    )

    assert message.startswith("unknown model_arg 'bogus' for vlm2vec (valid: pretrained, ")


def test_checkpoint_of_an_unsupported_backbone_is_refused(
    tmp_path: Path, mmeb_basedir: Path, valid_task: Path, capsys: pytest.CaptureFixture[str]
):
    checkpoint = write_text(tmp_path / "bert" / "config.json", json.dumps({"model_type": "bert"})).parent

    message = one_error_line(
        capsys,
        run_args(
            "ok", data=mmeb_basedir, out=tmp_path / "out", include=valid_task, model_args=f"pretrained={checkpoint}"
        ),
    )

    assert message == (
        f"'{checkpoint}' has model_type 'bert', which the vlm2vec adapter does not support "
        "(supported: qwen2_vl, qwen2_5_vl)"
    )


def test_lora_adapter_whose_base_model_is_missing_is_refused_with_advice(
    tmp_path: Path, mmeb_basedir: Path, valid_task: Path, capsys: pytest.CaptureFixture[str]
):
    missing_base = tmp_path / "no-such-base"
    adapter = write_text(
        tmp_path / "lora" / "adapter_config.json", json.dumps({"base_model_name_or_path": str(missing_base)})
    ).parent

    message = one_error_line(
        capsys,
        run_args("ok", data=mmeb_basedir, out=tmp_path / "out", include=valid_task, model_args=f"pretrained={adapter}"),
    )

    assert message.startswith(f"{adapter} is a LoRA adapter (base model '{missing_base}')")
    assert "its base model cannot be loaded" in message
    assert "pass base_model=PATH in --model_args" in message


# --- partial runs -------------------------------------------------------------------------------


def test_failed_second_task_keeps_the_first_tasks_files_and_the_leaderboard(tmp_path: Path, bad_rows, run_user_task):
    write_task(tmp_path / "tasks", "first")
    write_task(tmp_path / "tasks", "second", dataset={"files": [bad_rows("second", qry_img_path="synthetic/gone.png")]})
    out = tmp_path / "out"

    message = run_user_task("first,second")

    assert message.startswith("task 'second', ")
    for name in ("first_qry", "first_tgt", "first_info.jsonl", "first_score.json", "first_pred.jsonl"):
        assert (out / name).is_file(), name
    assert not list(out.glob("second*"))
    leaderboard = json.loads((out / "leaderboard.json").read_text())
    assert list(leaderboard["tasks"]) == ["first"]


# --- --debug ------------------------------------------------------------------------------------


def test_debug_flag_raises_the_error_with_its_traceback(tmp_path: Path):
    with pytest.raises(HarnessError, match="unknown task, group or tag 'nope'"):
        main([*run_args("nope", data=tmp_path, out=tmp_path / "out"), "--debug"])
