"""Property: any bytes in a JSON Lines data file give rows or one ``DataError``, never another exception.

Data files come from strangers' datasets. The reader must name ``file:line`` for whatever it
refuses: non-UTF-8 bytes, broken JSON, deep nesting, huge integers, non-object rows.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from harness.data import load_rows
from harness.errors import DataError
from harness.taskspec.schema import DatasetSource

SOURCE = DatasetSource(files=["rows.jsonl"])
FUZZ = settings(max_examples=150, deadline=2000, suppress_health_check=[HealthCheck.function_scoped_fixture])

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=20,
)
hostile_lines = st.one_of(
    st.binary(max_size=200),
    st.text(max_size=200).map(lambda t: t.encode("utf-8", "surrogatepass")),
    json_values.map(lambda v: json.dumps(v).encode()),
    st.integers(min_value=1, max_value=200_000).map(lambda n: b"[" * n + b"]" * n),
    st.integers(min_value=1, max_value=200_000).map(lambda n: b'{"a":' * n + b"1" + b"}" * n),
    st.integers(min_value=4000, max_value=20_000).map(lambda n: b'{"x": ' + b"9" * n + b"}"),
    st.sampled_from([b"\xef\xbb\xbf{}", b'{"a": NaN}', b'{"a": Infinity}', b"\x00", b"{" + b"\xff" * 3 + b"}"]),
)


def read(folder: Path, lines: list[bytes]) -> object:
    (folder / "rows.jsonl").write_bytes(b"\n".join(lines))
    try:
        return load_rows(SOURCE, folder, "local")
    except DataError as error:
        assert "\n" not in str(error)  # one line
        assert str(error).startswith(str(folder / "rows.jsonl"))  # names the file
        return error


@FUZZ
@given(lines=st.lists(hostile_lines, min_size=1, max_size=4))
def test_any_jsonl_bytes_give_rows_or_one_data_error(tmp_path: Path, lines: list[bytes]):
    start = time.monotonic()

    result = read(tmp_path, lines)

    assert time.monotonic() - start < 5
    if not isinstance(result, DataError):
        assert all(isinstance(row, dict) for row in result.rows)  # type: ignore[attr-defined]


@FUZZ
@given(rows=st.lists(st.dictionaries(st.text(max_size=10), json_values, max_size=5), min_size=1, max_size=5))
def test_valid_object_rows_are_read_back_in_order_with_their_line_numbers(tmp_path: Path, rows: list[dict]):
    result = read(tmp_path, [json.dumps(row).encode() for row in rows])

    assert not isinstance(result, DataError)
    assert len(result.rows) == len(rows)  # type: ignore[attr-defined]
    assert result.locations == [f"{tmp_path / 'rows.jsonl'}:{i}" for i in range(1, len(rows) + 1)]  # type: ignore[attr-defined]


def test_a_line_over_the_size_limit_is_refused_without_reading_it_whole(tmp_path: Path, monkeypatch):
    import harness.data.sources as sources

    monkeypatch.setattr(sources, "MAX_JSONL_LINE_BYTES", 1000)

    result = read(tmp_path, [b"{}", b'{"a": "' + b"x" * 5000 + b'"}'])

    assert isinstance(result, DataError)
    assert str(result) == f"{tmp_path / 'rows.jsonl'}:2: line longer than 1,000 bytes"


def test_deep_nesting_names_its_line(tmp_path: Path):
    result = read(tmp_path, [b"{}", b"[" * 100_000 + b"]" * 100_000])

    assert str(result) == f"{tmp_path / 'rows.jsonl'}:2: JSON nested too deeply"
