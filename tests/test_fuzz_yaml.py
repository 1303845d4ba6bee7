"""Property: any task file, however odd or hostile, loads or fails with one line, soon.

For arbitrary text, arbitrary bytes and generated YAML (deep nesting, anchors and aliases,
tags, odd scalars, tabs, BOMs, huge keys) ``load_task_file`` returns a task or group, or raises
a :class:`HarnessError` whose message is one line; never another exception, and within the
per-example deadline. Includes built from hostile path pieces never read outside the allowed
folders.
"""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest
import yaml
from conftest import minimal_task
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from harness.errors import HarnessError
from harness.taskspec import LoadedGroup, LoadedTask, load_task_file
from harness.taskspec.yaml_source import read_document

FUZZ = settings(
    max_examples=120,
    deadline=3000,  # ms per example: generous on a slow shared machine; the point is that it ends
    database=None,  # no .hypothesis/ folder in the working tree
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
SECRET = "fuzz_secret_key_8f3a"
_names = itertools.count()


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``<root>/tasks``, with a secret file beside it (outside) and an include-only file in it."""
    root = tmp_path_factory.mktemp("fuzz_yaml")
    (root / "secret.yaml").write_text(f"{SECRET}: 1\n", encoding="utf-8")
    tasks = root / "tasks"
    (tasks / "sub").mkdir(parents=True)
    (tasks / "_defaults.yaml").write_text("description: inside\n", encoding="utf-8")
    (tasks / "sub" / "_inner.yaml").write_text("description: inner\n", encoding="utf-8")
    (tasks / "_link.yaml").symlink_to(root / "secret.yaml")
    return tasks


def load_outcome(path: Path) -> LoadedTask | LoadedGroup | HarnessError:
    """What loading ``path`` gives: the loaded file or the one-line error (anything else fails)."""
    try:
        return load_task_file(path)
    except HarnessError as error:
        assert "\n" not in str(error), str(error)
        return error


def write_bytes(folder: Path, data: bytes) -> Path:
    path = folder / f"fuzz_{next(_names)}.yaml"
    path.write_bytes(data)
    return path


# --- generated YAML ----------------------------------------------------------------------------

ODD_SCALARS = st.sampled_from(
    [
        "~",
        "null",
        "true",
        "no",
        ".inf",
        "-.nan",
        "0x1F",
        "0o17",
        "1_000",
        "1e999",
        "190:20:30",
        "2001-13-45",
        "2001-02-03T04:05:06Z",
        "'single'",
        '"dou\\tble\\u00e9"',
        '"\\x00"',
        "!!binary aGVsbG8=",
        "!!binary ***",
        "!!python/object:os.system",
        "!!int abc",
        "!!float x",
        "!!set {a, b}",
        "!!omap [a: 1]",
        "!custom x",
        "&anchor x",
        "*alias",
        "<<: *base",
        "|\n  block",
        ">-\n  folded",
        "? complex",
        "- dash",
        "#comment",
        "\t",
        "'" + "k" * 2000 + "'",
        "[",
        "}",
        "%YAML 1.1",
        "---",
        "...",
        "\ufeff",
        "@reserved",
        "`tick",
    ]  # fmt: skip
)
PLAIN = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=12)
SCALARS = st.one_of(ODD_SCALARS, PLAIN)


def _flow(children: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    lists = st.lists(children, max_size=4).map(lambda items: "[" + ", ".join(items) + "]")
    maps = st.lists(st.tuples(SCALARS, children), max_size=4).map(
        lambda pairs: "{" + ", ".join(f"{key}: {value}" for key, value in pairs) + "}"
    )
    return st.one_of(lists, maps)


FLOW_VALUES = st.recursive(SCALARS, _flow, max_leaves=30)
TOP_KEYS = st.sampled_from(["task", "group", "version", "include", "dataset", "query", "tag", "rows", "x"])
DOCUMENTS = st.lists(st.tuples(st.one_of(TOP_KEYS, SCALARS), FLOW_VALUES), max_size=6).map(
    lambda pairs: "".join(f"{key}: {value}\n" for key, value in pairs)
)


@FUZZ
@given(text=st.text(max_size=400))
def test_arbitrary_text_loads_or_fails_in_one_line(folder: Path, text: str):
    load_outcome(write_bytes(folder, text.encode("utf-8", "surrogatepass")))


@FUZZ
@given(data=st.binary(max_size=400), prefix=st.sampled_from([b"", b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff"]))
def test_arbitrary_bytes_load_or_fail_in_one_line(folder: Path, data: bytes, prefix: bytes):
    load_outcome(write_bytes(folder, prefix + data))


@FUZZ
@given(document=DOCUMENTS, bom=st.booleans(), tabs=st.booleans())
def test_generated_yaml_loads_or_fails_in_one_line(folder: Path, document: str, bom: bool, tabs: bool):
    text = ("\ufeff" if bom else "") + (document.replace("  ", "\t") if tabs else document)
    load_outcome(write_bytes(folder, text.encode("utf-8", "surrogatepass")))


@settings(FUZZ, max_examples=40)  # each example parses up to 60 KB of brackets
@given(depth=st.integers(min_value=1, max_value=30_000), kind=st.sampled_from(["[", "{a: ", "- "]))
def test_nesting_of_any_depth_loads_or_fails_in_one_line(folder: Path, depth: int, kind: str):
    if kind == "- ":  # block style: each level indented one more space
        body = "".join(" " * level + "- \n" for level in range(min(depth, 2000)))
    else:
        closing = "]" if kind == "[" else "}"
        body = kind * depth + ("1" if kind != "[" else "") + closing * depth
    load_outcome(write_bytes(folder, f"task: t\nrows: {body}\n".encode()))


@FUZZ
@given(levels=st.integers(min_value=1, max_value=12), width=st.integers(min_value=1, max_value=12))
def test_alias_expansion_of_any_size_is_refused(folder: Path, levels: int, width: int):
    lines = ["l0: &l0 [" + ", ".join(["x"] * width) + "]"]
    lines += [f"l{n}: &l{n} [" + ", ".join([f"*l{n - 1}"] * width) + "]" for n in range(1, levels)]
    outcome = load_outcome(write_bytes(folder, ("\n".join(lines) + "\n").encode()))

    assert isinstance(outcome, HarnessError)
    assert str(outcome).endswith("YAML anchors and aliases are not allowed in task files")


MUTATIONS = st.one_of(SCALARS, FLOW_VALUES, st.integers(), st.floats(allow_nan=False), st.none(), st.booleans())


@FUZZ
@given(key_path=st.lists(st.sampled_from(["task", "query", "template", "candidates", "dataset", "files", "tag",
                                          "relevance", "kind", "metrics", "k", "0", "num_rows"]), min_size=1,
                         max_size=3),
       value=MUTATIONS)  # fmt: skip
def test_a_valid_task_with_one_value_replaced_loads_or_fails_in_one_line(
    folder: Path, key_path: list[str], value: object
):
    document = minimal_task("fuzzed")
    node: dict[str, object] = document
    for key in key_path[:-1]:
        child = node.get(key)
        if not isinstance(child, dict):
            child = {}
            node[key] = child
        node = child
    node[key_path[-1]] = value
    load_outcome(write_bytes(folder, yaml.safe_dump(document, allow_unicode=True).encode("utf-8", "surrogatepass")))


# --- includes ----------------------------------------------------------------------------------------

PATH_PIECES = st.sampled_from(
    ["..", ".", "/", "//", "secret.yaml", "_defaults.yaml", "sub", "_inner.yaml", "_link.yaml", "tasks", "harness:",
     "~", "%2e%2e", "\\", "/etc/passwd", "/proc/self/environ", "\x00", "mmeb_v2", "image", "_image_cls.yaml", " "]
)  # fmt: skip


@FUZZ
@given(pieces=st.lists(PATH_PIECES, min_size=1, max_size=8), sep=st.sampled_from(["/", "", "/../"]))
def test_no_include_reads_outside_the_allowed_folders(folder: Path, pieces: list[str], sep: str):
    include = sep.join(pieces)
    path = write_bytes(folder, f"include: {include!r}\n".encode("utf-8", "surrogatepass") + b"description: d\n")

    try:
        data = read_document(path).data
    except HarnessError as error:
        assert "\n" not in str(error)
        assert SECRET not in str(error)
        return
    assert SECRET not in data
