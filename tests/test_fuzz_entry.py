"""Property-based fuzzing of everything that reads entries from strangers, and of what shows them.

Whatever the input (any bytes in a file, any JSON value, a valid entry or run file with one
field or key replaced by something hostile), reading gives a validated entry or a one-line
:class:`~harness.errors.HarnessError`, never another exception, within the deadline; a
validated entry can be written and read back. Whatever text a model name or a key holds, the
built page has no element, attribute or id that the template does not emit, and shows the
text as typed. Examples are few and small, so the file runs in well under a minute.
"""

from __future__ import annotations

import contextlib
import io
import json
import math
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from leaderboard_factory import PAGE_ATTRIBUTES, PAGE_TAGS, PageStructure, entry_with_keys, make_entry, run_payload

from harness.cli import main
from harness.errors import HarnessError
from harness.leaderboard import LeaderboardEntry, StoredEntry, entry_from_payload, entry_text, load_entry
from harness.leaderboard.display import printable
from harness.leaderboard.element_ids import element_ids
from harness.leaderboard.export import markdown_cell
from harness.leaderboard.site import render_page

FUZZ = settings(
    max_examples=200,
    deadline=2000,  # ms per example, on a slow shared machine
    database=None,  # nothing written into the checkout
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

ENTRY = make_entry().model_dump(mode="json")
RUN = run_payload()

ODD_TEXT = [
    "",
    " ",
    "\x00",
    "\ud800",
    "a\udfffb",
    "\x1b[2J\x1b]0;title\x07",
    "\u202egnp.exe",
    "\u200b",
    "💥",
    "x" * 10_000,
    "{{7*7}}",
    "</script>",
    "NaN",
]


def _nested(depth: int, dicts: bool) -> Any:
    value: Any = 1
    for _ in range(depth):
        value = {"a": value} if dicts else [value]
    return value


json_scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=20)
    | st.sampled_from(ODD_TEXT)
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8) | st.sampled_from(ODD_TEXT), inner),
    max_leaves=20,
)
hostile_values = (
    st.sampled_from(
        [math.nan, math.inf, -math.inf, True, False, "0.5", 10**400, -(10**30), 2**64, 1e308, -0.0, 5e-324, -1]
        + [None, [], {}, *ODD_TEXT]
    )
    | st.builds(_nested, st.integers(1, 300), st.booleans())  # deeper: the file-level test below
    | json_values
)


def _paths(payload: Any) -> list[tuple[Any, ...]]:
    """Every path to a value inside ``payload`` (dict keys and list indices)."""
    found: list[tuple[Any, ...]] = []
    stack: list[tuple[tuple[Any, ...], Any]] = [((), payload)]
    while stack:
        path, value = stack.pop()
        items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
        for key, item in items:
            found.append((*path, key))
            stack.append(((*path, key), item))
    return sorted(found, key=repr)


ENTRY_PATHS, RUN_PATHS = _paths(ENTRY), _paths(RUN)


def _mutated(payload: Any, path: tuple[Any, ...], action: str, value: Any) -> Any:
    """A copy of ``payload`` with the value at ``path`` replaced or deleted, or its key renamed."""
    copy = json.loads(json.dumps(payload))
    parent = copy
    for key in path[:-1]:
        parent = parent[key]
    last = path[-1]
    if action == "replace":
        parent[last] = value
    elif action == "delete":
        del parent[last]
    elif isinstance(parent, dict):
        parent[value if isinstance(value, str) else str(value)] = parent.pop(last)
    return copy


def _entry_or_one_line_error(read: Callable[[], LeaderboardEntry]) -> None:
    """The property: ``read`` gives an entry that round-trips, or a one-line HarnessError."""
    try:
        entry = read()
    except HarnessError as error:
        assert "\n" not in str(error) and str(error)
        return
    assert entry_from_payload(json.loads(entry_text(entry))) == entry


@pytest.fixture(scope="module")
def scratch(tmp_path_factory) -> Path:
    """One file the examples overwrite (hypothesis refuses function-scoped fixtures)."""
    return tmp_path_factory.mktemp("fuzz") / "entry.json"


@FUZZ
@given(raw=st.binary(max_size=4096))
def test_any_bytes_in_a_file_read_as_an_entry_or_one_error(scratch, raw):
    scratch.write_bytes(raw)
    _entry_or_one_line_error(lambda: load_entry(scratch))


@FUZZ
@given(depth=st.integers(1, 200_000), opener=st.sampled_from(["[", '{"a":', '{"schema_version": "2.0", "model": [']))
def test_nesting_of_any_depth_in_a_file_is_an_entry_or_one_error(scratch, depth, opener):
    closer = "]" if opener == "[" else "}" if opener == '{"a":' else "]}"
    scratch.write_text(opener * depth + "1" + closer * depth)
    _entry_or_one_line_error(lambda: load_entry(scratch))


@FUZZ
@given(value=json_values)
def test_any_json_value_is_an_entry_or_one_error(scratch, value):
    _entry_or_one_line_error(lambda: entry_from_payload(value))
    scratch.write_text(json.dumps(value, allow_nan=True))
    _entry_or_one_line_error(lambda: load_entry(scratch))


@FUZZ
@given(
    path=st.sampled_from(ENTRY_PATHS),
    action=st.sampled_from(["replace", "replace", "delete", "rename"]),
    value=hostile_values,
)
def test_entry_with_one_hostile_field_or_key_is_an_entry_or_one_error(scratch, path, action, value):
    payload = _mutated(ENTRY, path, action, value)
    _entry_or_one_line_error(lambda: entry_from_payload(payload))
    scratch.write_text(json.dumps(payload, allow_nan=True))
    _entry_or_one_line_error(lambda: load_entry(scratch))


@FUZZ
@given(
    path=st.sampled_from(RUN_PATHS),
    action=st.sampled_from(["replace", "replace", "delete", "rename"]),
    value=hostile_values,
)
def test_run_file_with_one_hostile_field_or_key_is_an_entry_or_one_error(path, action, value):
    payload = _mutated(RUN, path, action, value)
    _entry_or_one_line_error(lambda: entry_from_payload(payload))


@settings(FUZZ, max_examples=50)
@given(raw=st.binary(max_size=512) | st.sampled_from([b"[" * 50_000, b'{"schema_version": NaN}', b"\xff\xfe"]))
def test_cli_validate_exits_0_or_2_with_at_most_one_error_line(scratch, raw):
    scratch.write_bytes(raw)
    err, out = io.StringIO(), io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(out):
        status = main(["leaderboard", "validate", str(scratch)])
    assert (status, err.getvalue().count("\n")) in ((0, 0), (2, 1))
    assert err.getvalue().startswith(f"error: {scratch}") or status == 0


# --- what shows entries -------------------------------------------------------------------------

any_text = st.text(min_size=1, max_size=40) | st.sampled_from(ODD_TEXT[1:])


@FUZZ
@given(name=any_text, modality=any_text, meta_task=any_text, task=any_text)
def test_any_text_as_name_or_key_adds_no_markup_to_the_page_and_shows_as_typed(name, modality, meta_task, task):
    entry = entry_with_keys(name, modality, meta_task, task)
    html = render_page([StoredEntry(Path("e.json"), entry)], "2026-01-01")
    page = PageStructure(html)
    assert page.tags <= PAGE_TAGS
    assert page.attributes <= PAGE_ATTRIBUTES
    assert html.count("<script>") == 1
    text = "".join(page.text)
    for value in (name, modality, meta_task, task):
        assert printable(value) in text
    assert len(page.ids) == len(set(page.ids))
    assert all(re.fullmatch(r"[A-Za-z0-9-]+", i) for i in page.ids)


@FUZZ
@given(names=st.lists(any_text, unique=True, max_size=12))
def test_different_names_never_share_an_element_id(names):
    ids = element_ids(names)
    assert len(set(ids)) == len(names)
    assert all(re.fullmatch(r"[A-Za-z0-9-]+", i) for i in ids)


@FUZZ
@given(text=st.text(max_size=60) | st.sampled_from(ODD_TEXT))
def test_markdown_cell_of_any_text_is_one_line_without_html_or_a_bare_pipe(text):
    cell = markdown_cell(text)
    assert "\n" not in cell and "\r" not in cell and "<" not in cell and ">" not in cell
    assert all(cell[i - 1] == "\\" for i, c in enumerate(cell) if c == "|")
    assert printable(cell) == cell
