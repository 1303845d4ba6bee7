"""Entry files from strangers: what the reader refuses, always as one line naming the file."""

from __future__ import annotations

import json

import pytest
from leaderboard_factory import make_entry, run_payload

from harness.cli import main
from harness.leaderboard import EntryError, entry_from_payload, load_entry
from harness.leaderboard.json_input import MAX_DEPTH, MAX_FILE_BYTES


def _entry_text() -> str:
    return json.dumps(make_entry().model_dump(mode="json"))


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
def test_nan_and_infinity_literals_are_refused_naming_the_file(tmp_path, constant):
    path = tmp_path / "entry.json"
    path.write_text(_entry_text().replace('"overall": 0.5', f'"overall": {constant}'))
    with pytest.raises(EntryError, match=rf"entry\.json: not valid JSON \({constant} is not a JSON number"):
        load_entry(path)


def test_a_float_too_large_for_a_double_is_refused(tmp_path):
    path = tmp_path / "entry.json"
    path.write_text(_entry_text().replace('"overall": 0.5', '"overall": 1e400'))
    with pytest.raises(EntryError, match=r"entry\.json: not valid JSON \(number 1e400 is out of range\)"):
        load_entry(path)


def test_an_integer_of_thousands_of_digits_is_refused(tmp_path):
    path = tmp_path / "entry.json"
    path.write_text(_entry_text().replace('"num_queries": 10', '"num_queries": ' + "9" * 5000, 1))
    with pytest.raises(EntryError, match=r"entry\.json: not valid JSON \(integer 9{60} is out of range\)"):
        load_entry(path)


@pytest.mark.parametrize("opener", ["[", '{"a":'])
def test_deeply_nested_json_is_one_error_naming_the_file(tmp_path, opener):
    closer = "]" if opener == "[" else "}"
    path = tmp_path / "deep.json"
    path.write_text(opener * 100_000 + "1" + closer * 100_000)
    with pytest.raises(EntryError, match=rf"deep\.json: nested deeper than {MAX_DEPTH} levels"):
        load_entry(path)


def test_nesting_beyond_the_limit_but_within_pythons_is_refused_naming_the_field(tmp_path):
    payload = json.loads(_entry_text())
    payload["model"]["settings"] = {"a": json.loads("[" * MAX_DEPTH + "]" * MAX_DEPTH)}
    path = tmp_path / "entry.json"
    path.write_text(json.dumps(payload))
    with pytest.raises(EntryError, match=rf"entry\.json: model\.settings\.a(\[0\])+: nested deeper than {MAX_DEPTH}"):
        load_entry(path)


def test_deep_payload_built_in_memory_is_refused_without_recursion():
    payload = json.loads(_entry_text())
    deep: list = []
    payload["model"]["settings"] = {"deep": deep}
    for _ in range(100_000):
        deep.append([])
        deep = deep[0]
    with pytest.raises(EntryError, match="nested deeper than"):
        entry_from_payload(payload)


def test_non_utf8_file_is_refused_naming_the_file_and_byte(tmp_path):
    path = tmp_path / "latin1.json"
    path.write_bytes(_entry_text().replace("org/model-a", "org/mod\u00e9l").encode("latin-1"))
    with pytest.raises(EntryError, match=r"latin1\.json: not UTF-8 text \(byte \d+: invalid"):
        load_entry(path)


def test_file_over_the_size_limit_is_refused_without_being_parsed(tmp_path):
    path = tmp_path / "huge.json"
    path.write_bytes(b"[" + b"0," * (MAX_FILE_BYTES // 2) + b"0]")
    with pytest.raises(EntryError, match=r"huge\.json: larger than the 4 MiB an entry file may be"):
        load_entry(path)


def test_lone_surrogate_in_a_string_is_refused_naming_the_field(tmp_path):
    path = tmp_path / "entry.json"
    path.write_text(_entry_text().replace('"org/model-a"', '"org/model-\\ud800"', 1))
    with pytest.raises(EntryError, match=r"entry\.json: model\.name: text with a lone UTF-16 surrogate"):
        load_entry(path)


def test_a_json_value_that_is_not_an_object_is_refused(tmp_path):
    path = tmp_path / "list.json"
    path.write_text("[1, 2]")
    with pytest.raises(EntryError, match=r"list\.json: expected a JSON object, got list"):
        load_entry(path)


def test_a_directory_is_refused_as_unreadable(tmp_path):
    with pytest.raises(EntryError, match=r"cannot read"):
        load_entry(tmp_path)


def test_cli_prints_one_line_for_a_deeply_nested_file(tmp_path, capsys):
    path = tmp_path / "deep.json"
    path.write_text("[" * 100_000 + "]" * 100_000)
    assert main(["leaderboard", "validate", str(path)]) == 2
    err = capsys.readouterr().err
    assert err == f"error: {path}: nested deeper than {MAX_DEPTH} levels\n"


def test_cli_prints_one_line_for_a_non_utf8_file(tmp_path, capsys):
    path = tmp_path / "bytes.json"
    path.write_bytes(b'{"schema_version": "2.0", "model": "\xff\xfe"}')
    assert main(["leaderboard", "add", str(path), "--dir", str(tmp_path / "board")]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {path}: not UTF-8 text") and err.count("\n") == 1


def test_run_file_with_a_nan_literal_is_refused_on_add(tmp_path, capsys):
    path = tmp_path / "run.json"
    path.write_text(json.dumps(run_payload()).replace('"overall": 0.5', '"overall": NaN'))
    assert main(["leaderboard", "add", str(path), "--dir", str(tmp_path / "board")]) == 2
    assert "NaN is not a JSON number" in capsys.readouterr().err
    assert not (tmp_path / "board").exists()


def test_invalid_benchmark_flag_is_one_line_not_a_traceback(tmp_path, capsys):
    path = tmp_path / "run.json"
    path.write_text(json.dumps(run_payload()))
    assert main(["leaderboard", "add", str(path), "--dir", str(tmp_path / "b"), "--benchmark", "a b@1"]) == 2
    assert capsys.readouterr().err.startswith("error: --benchmark.name: String should match pattern")
