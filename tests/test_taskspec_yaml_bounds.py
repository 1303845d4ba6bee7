"""Reading a stranger's task file ends soon and small: no aliases, bounded depth, size and nodes.

Each hostile file is refused with one line naming file, line and the limit, and within a
generous time bound (the point is that it is bounded, not how fast it is).
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import yaml
from conftest import write_task

from harness.cli import main
from harness.errors import TaskFileError
from harness.taskspec import builtin_task_dir, load_task_file
from harness.taskspec.limits import INCLUDE_MAX_FILES, YAML_MAX_BYTES, YAML_MAX_DEPTH, YAML_MAX_NODES
from harness.taskspec.yaml_source import read_document

ALIASES = "YAML anchors and aliases are not allowed in task files"


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def billion_laughs(levels: int = 9) -> str:
    """``a: &a [x, x, ...]``, ``b: &b [*a, *a, ...]``, ...: under 1 KB, 9**levels strings expanded."""
    names = "abcdefghijk"[:levels]
    lines = ["a: &a [" + ", ".join(['"x"'] * 9) + "]"]
    for previous, name in zip(names, names[1:], strict=False):
        lines.append(f"{name}: &{name} [" + ", ".join([f"*{previous}"] * 9) + "]")
    return "\n".join(lines) + "\n"


def read_error(path: Path) -> str:
    with pytest.raises(TaskFileError) as error:
        read_document(path)
    return str(error.value)


def refused_quickly(path: Path) -> str:
    start = time.monotonic()
    message = read_error(path)
    assert time.monotonic() - start < 5
    return message


# --- anchors and aliases -------------------------------------------------------------------------


def test_nested_aliases_are_refused_before_any_expansion(tmp_path: Path):
    path = write(tmp_path / "laughs.yaml", billion_laughs(9))
    assert path.stat().st_size < 1000

    assert refused_quickly(path) == f"{path}:1: {ALIASES}"


def test_an_anchor_is_refused_at_its_line_even_without_an_alias(tmp_path: Path):
    path = write(tmp_path / "t.yaml", "task: t\ndescription: &d text\n")

    assert read_error(path) == f"{path}:2: {ALIASES}"


def test_a_merge_key_is_refused_as_an_alias(tmp_path: Path):
    path = write(tmp_path / "t.yaml", "base: {x: 1}\ntask:\n  <<: *base\n")

    assert read_error(path) == f"{path}:3: {ALIASES}"


def test_no_builtin_task_file_uses_anchors_or_aliases():
    for path in sorted(builtin_task_dir().rglob("*.yaml")):
        for event in yaml.parse(path.read_text(encoding="utf-8"), Loader=yaml.SafeLoader):
            assert not isinstance(event, yaml.AliasEvent), path
            assert getattr(event, "anchor", None) is None, path


# --- depth, nodes, size ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "nested", ["[" * 20_000 + "]" * 20_000, "{a: " * 20_000 + "1" + "}" * 20_000], ids=["lists", "mappings"]
)
def test_deep_nesting_is_refused_without_a_recursion_error(tmp_path: Path, nested: str):
    path = write(tmp_path / "deep.yaml", f"task: t\nrows: {nested}\n")

    assert refused_quickly(path) == f"{path}:2: YAML nests deeper than {YAML_MAX_DEPTH} levels (depth limit)"


def test_nesting_at_the_depth_limit_is_read(tmp_path: Path):
    inner = YAML_MAX_DEPTH - 1  # the top-level mapping is the first level
    path = write(tmp_path / "t.yaml", "rows: " + "[" * inner + "]" * inner + "\n")

    assert "rows" in read_document(path).data


def test_block_style_nesting_is_limited_too(tmp_path: Path):
    lines = [" " * level + "a:" for level in range(YAML_MAX_DEPTH + 1)]
    path = write(tmp_path / "t.yaml", "\n".join(lines) + " 1\n")

    assert read_error(path).endswith(f"YAML nests deeper than {YAML_MAX_DEPTH} levels (depth limit)")


def test_more_values_than_the_node_limit_are_refused(tmp_path: Path):
    path = write(tmp_path / "t.yaml", "rows: [" + ", ".join(["1"] * YAML_MAX_NODES) + "]\n")

    message = refused_quickly(path)

    assert message == f"{path}:1: task file and its includes have more than {YAML_MAX_NODES} YAML values (node limit)"


def test_a_file_over_the_size_limit_is_refused_before_it_is_parsed(tmp_path: Path):
    path = write(tmp_path / "t.yaml", "description: " + "x" * YAML_MAX_BYTES + "\n")

    message = refused_quickly(path)

    assert message == f"{path}:1: task file and its includes exceed {YAML_MAX_BYTES} bytes of YAML (file size limit)"


def test_includes_share_the_size_budget_of_the_file_that_includes_them(tmp_path: Path):
    half = "# " + "x" * (YAML_MAX_BYTES // 2) + "\n"
    write(tmp_path / "_big.yaml", half + "description: d\n")
    path = write(tmp_path / "t.yaml", half + "include: _big.yaml\n")

    assert read_error(path).startswith(f"{tmp_path / '_big.yaml'}:1: task file and its includes exceed")


def test_including_one_file_many_times_is_bounded_by_the_include_limit(tmp_path: Path):
    write(tmp_path / "_d.yaml", "description: d\n")
    path = write(tmp_path / "t.yaml", "include: [" + ", ".join(["_d.yaml"] * (INCLUDE_MAX_FILES + 1)) + "]\n")

    assert read_error(path) == f"{path.resolve()}:1: include: more than {INCLUDE_MAX_FILES} files read (include limit)"


# --- odd text: one line, with its line number ----------------------------------------------------


def test_a_control_character_is_malformed_yaml_on_one_line(tmp_path: Path):
    path = write(tmp_path / "t.yaml", "task: t\ndescription: a\x00b\n")

    message = read_error(path)

    # libyaml says "control characters", PyYAML's Python reader "special characters"
    assert message.startswith(f"{path}:2: malformed YAML: unacceptable character #x0000: ")
    assert message.endswith(" characters are not allowed")
    assert "\n" not in message


def test_an_impossible_date_is_malformed_yaml_at_its_line(tmp_path: Path):
    path = write(tmp_path / "t.yaml", "task: t\nversion: 2001-13-45\n")

    assert read_error(path) == f"{path}:2: malformed YAML: month must be in 1..12"


def test_a_file_that_is_not_utf8_is_refused_on_one_line(tmp_path: Path):
    path = tmp_path / "t.yaml"
    path.write_bytes(b"task: \xff\xfe\n")

    message = read_error(path)

    assert message.startswith(f"{path}:1: cannot read file: 'utf-8' codec can't decode byte 0xff")
    assert "\n" not in message


def test_a_key_with_a_newline_is_quoted_in_the_error(tmp_path: Path):
    path = write_task(tmp_path, "t")
    path.write_text(path.read_text() + '"bad\\nkey": 1\n', encoding="utf-8")

    with pytest.raises(TaskFileError) as error:
        load_task_file(path)

    assert str(error.value).endswith(": 'bad\\nkey': unknown key")


def test_every_builtin_yaml_file_reads_within_the_bounds():
    for path in sorted(builtin_task_dir().rglob("*.yaml")):
        assert read_document(path).data, path


# --- the command line ------------------------------------------------------------------------------


def test_harness_tasks_prints_one_line_for_a_billion_laughs_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    path = write(tmp_path / "mine" / "laughs.yaml", billion_laughs(9))

    status = main(["tasks", "--include_path", str(tmp_path / "mine")])

    assert status == 2
    assert capsys.readouterr().err.strip() == f"error: {path.resolve()}:1: {ALIASES}"


def test_harness_validate_prints_a_fail_line_for_a_deeply_nested_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    path = write(tmp_path / "deep.yaml", "task: " + "[" * 20_000 + "]" * 20_000 + "\n")

    status = main(["validate", str(path)])

    out, err = capsys.readouterr()
    assert status != 0
    assert "Traceback" not in out + err
    depth_error = f"YAML nests deeper than {YAML_MAX_DEPTH} levels (depth limit)"
    assert out.splitlines()[0] == f"FAIL  {path.resolve()}:1: {depth_error}"


def test_every_built_in_task_file_parses_as_pyyamls_safe_loader_reads_it():
    import yaml

    from harness.taskspec.yaml_parse import ParseBudget, parse_file
    from harness.taskspec.yaml_source import builtin_task_dir

    files = sorted(builtin_task_dir().rglob("*.yaml"))
    assert len(files) > 100
    for path in files:
        data, locations = parse_file(path, ParseBudget())
        assert data == yaml.safe_load(path.read_text()), path
        assert locations[(next(iter(data)),)][1] >= 1


def test_without_libyaml_the_python_parser_reads_every_file_and_keeps_the_bounds(tmp_path: Path):
    import subprocess
    import sys

    deep = write(tmp_path / "deep.yaml", "task: " + "[" * 100 + "]" * 100 + "\n")
    alias = write(tmp_path / "alias.yaml", "task: &a t\nversion: *a\n")
    script = (
        "import sys; sys.modules['yaml._yaml'] = None\n"  # as a PyYAML built without libyaml
        "from harness.taskspec import TaskIndex\n"
        "from harness.taskspec.yaml_parse import ParseBudget, PythonEvents, _EventParser, parse_file\n"
        "from harness.errors import TaskFileError\n"
        "assert _EventParser is PythonEvents\n"
        "print(len(TaskIndex().tasks))\n"
        "for path in sys.argv[1:]:\n"
        "    try:\n"
        "        parse_file(__import__('pathlib').Path(path), ParseBudget())\n"
        "    except TaskFileError as error:\n"
        "        print(error)\n"
    )
    done = subprocess.run([sys.executable, "-c", script, str(deep), str(alias)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    count, depth_error, alias_error = done.stdout.strip().splitlines()
    from harness.taskspec import TaskIndex

    assert int(count) == len(TaskIndex().tasks)
    assert depth_error == f"{deep}:1: YAML nests deeper than {YAML_MAX_DEPTH} levels (depth limit)"
    assert alias_error.startswith(f"{alias}:1: YAML anchors and aliases are not allowed")
