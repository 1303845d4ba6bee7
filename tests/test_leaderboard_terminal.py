"""Entry text on a terminal: no escape sequences, controls, bidi or invisible characters, no rich markup."""

from __future__ import annotations

import json

import pytest
from leaderboard_factory import make_entry

from harness.cli import main
from harness.leaderboard import EntryError, add_entry
from harness.leaderboard.display import json_escaped, printable

HIDDEN = ["\x1b", "\x9b", "\x07", "\x00", "\x85", "\u202e", "\u2066", "\u200b", "\u200d", "\ufeff", "\U000e0041"]
"""Characters that must never reach the terminal from an entry."""


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("\x1b[31mred\x1b[0m", "red"),
        ("\x1b]0;new window title\x07name", "name"),
        ("\x1b]8;;https://evil.example\x1b\\click\x1b]8;;\x1b\\", "click"),
        ("\x9b2Jcleared", "cleared"),
        ("bell\x07 nul\x00 del\x7f", "bell nul del"),
        ("c1\x85next\x8dline", "c1 nextline"),
        ("txt.exe\u202egnp.", "txt.exegnp."),
        ("\u2066isolated\u2069 \u2067rtl\u2068", "isolated rtl"),
        ("zero\u200bwidth\u200c\u200d\u2060\ufeff", "zerowidth"),
        ("tag\U000e0041\U000e007f chars", "tag chars"),
        ("line\nbreak\r\ttab\u2028sep", "line break  tab sep"),
        ("Hangul\u3164filler\u115f", "Hangulfiller"),
        ("ordinary ünïcödé 模型 نموذج", "ordinary ünïcödé 模型 نموذج"),
    ],
)
def test_printable_removes_what_could_drive_or_disguise_a_terminal(text, shown):
    assert printable(text) == shown


def test_json_escaped_keeps_the_data_but_writes_hidden_characters_as_escapes():
    text = json.dumps({"name": "a\u202eb\x7fc\U000e0041 ü"}, indent=2, ensure_ascii=False)
    escaped = json_escaped(text)
    assert json.loads(escaped) == json.loads(text)
    assert not any(c in escaped for c in ["\u202e", "\x7f", "\U000e0041"])
    assert "ü" in escaped and escaped.count("\n") == 2


@pytest.fixture
def board(tmp_path):
    """A folder with an entry per hostile model name."""
    names = {
        "ansi": "\x1b[31mred\x1b[0m\x1b[2J",
        "markup": "[bold red]x[/]",
        "link": "[link=https://evil.example]click[/link]",
        "bidi": "safe\u202eenil",
        "zero": "zero\u200bwidth",
        "emoji": ":thumbs_up: ok",
        "c1": "c1\x9b2Jx",
    }
    paths = {key: add_entry(tmp_path, make_entry(name=name, pretrained=f"org/{key}")) for key, name in names.items()}
    return tmp_path, paths


def _assert_clean(text: str) -> None:
    for char in HIDDEN:
        assert char not in text, repr(char)


def test_show_strips_controls_and_prints_markup_literally(board, capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "240")
    root, _paths = board
    assert main(["leaderboard", "show", "--dir", str(root), "--meta"]) == 0
    out = capsys.readouterr().out
    _assert_clean(out)
    for literal in ("[bold red]x[/]", "[link=https://evil.example]click[/link]", ":thumbs_up: ok", "safeenil"):
        assert literal in out
    assert "red[2J" not in out and "zerowidth" in out and "c1x" in out


def test_compare_strips_controls_in_names_title_and_tasks(board, capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "400")
    _root, paths = board
    assert main(["leaderboard", "compare", str(paths["ansi"]), str(paths["markup"])]) == 0
    out = capsys.readouterr().out
    _assert_clean(out)
    assert "A = red" in out and "B = [bold red]x[/]" in out


def test_export_mmeb_to_stdout_escapes_hidden_characters_but_keeps_the_name(board, capsys):
    _root, paths = board
    assert main(["leaderboard", "export", "--format", "mmeb", str(paths["bidi"])]) == 0
    out = capsys.readouterr().out
    _assert_clean(out)
    assert json.loads(out)["metadata"]["model_name"] == "safe\u202eenil"


def test_validate_prints_the_cleaned_name(board, capsys):
    _root, paths = board
    assert main(["leaderboard", "validate", str(paths["ansi"])]) == 0
    out = capsys.readouterr().out
    _assert_clean(out)
    assert "(red, bench@1.0, 3 tasks)" in out


def test_error_messages_are_one_clean_line(tmp_path, capsys):
    path = tmp_path / "entry.json"
    payload = make_entry().model_dump(mode="json")
    payload["scores"]["image"]["\x1b[2J\nline two\u202e"] = payload["scores"]["image"].pop("alpha")
    path.write_text(json.dumps(payload))
    assert main(["leaderboard", "validate", str(path)]) == 2
    err = capsys.readouterr().err
    _assert_clean(err)
    assert err.count("\n") == 1 and err.startswith(f"error: {path}: scores.image. line two.[key]: String should")


def test_a_name_that_differs_only_by_invisible_characters_is_a_duplicate(tmp_path):
    add_entry(tmp_path, make_entry(name="org/model"))
    with pytest.raises(EntryError, match=r"is already in the leaderboard"):
        add_entry(tmp_path, make_entry(name="org/\u200bmodel\u202e"))
