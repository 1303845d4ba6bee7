"""The Markdown export: every cell and header shows literally, on one row, whatever the entry says."""

from __future__ import annotations

import pytest
from leaderboard_factory import make_entry

from harness.leaderboard import add_entry, list_entries, to_markdown
from harness.leaderboard.export import markdown_cell


@pytest.mark.parametrize(
    ("text", "cell"),
    [
        ("a | b", "a \\| b"),
        ("back\\slash", "back\\\\slash"),
        ("line\nbreak\r\nthird", "line break  third"),
        ("<b>bold</b> & <img src=x>", "&lt;b&gt;bold&lt;/b&gt; &amp; &lt;img src=x&gt;"),
        ("&lt;already&gt;", "&amp;lt;already&amp;gt;"),
        ("`code` and ```fence```", "\\`code\\` and \\`\\`\\`fence\\`\\`\\`"),
        ("*em* _em_ ~~del~~", "\\*em\\* \\_em\\_ \\~\\~del\\~\\~"),
        ("[click](javascript:alert(1))", "\\[click\\]\\(javascript:alert\\(1\\)\\)"),
        ("![pixel](https://tracker.example/p.png)", "\\!\\[pixel\\]\\(https://tracker.example/p.png\\)"),
        ("$x^2$", "\\$x^2\\$"),
        ("\x1b[31mred\u202e\u200b", "red"),
        ("plain org/model-v2.0", "plain org/model-v2.0"),
    ],
)
def test_markdown_cell_escapes_table_syntax_markup_and_html(text, cell):
    assert markdown_cell(text) == cell


def test_model_name_with_a_newline_and_pipes_stays_on_its_row(tmp_path):
    add_entry(tmp_path, make_entry(name="evil\n| injected | row |\n<script>x</script>"))
    lines = to_markdown(list_entries(tmp_path)).splitlines()
    assert len(lines) == 3  # header, separator, one row
    assert lines[2].startswith("| evil \\| injected \\| row \\| &lt;script&gt;x&lt;/script&gt; | bench@1.0 |")
    assert lines[2].count(" | ") == lines[0].count(" | ")


def test_meta_task_headers_are_escaped_like_cells(tmp_path):
    tasks = {"alpha": ("image", "x_em_", 0.5), "beta": ("image", "a_b", 0.25)}
    add_entry(tmp_path, make_entry(tasks=tasks))
    header = to_markdown(list_entries(tmp_path), meta_tasks=True).splitlines()[0]
    assert header == "| model | benchmark | tasks | overall | image | x\\_em\\_ | a\\_b |"


def test_a_meta_task_named_like_a_modality_keeps_its_own_column(tmp_path):
    tasks = {"alpha": ("image", "image", 0.5), "beta": ("image", "X-RET", 0.25)}
    add_entry(tmp_path, make_entry(tasks=tasks))
    lines = to_markdown(list_entries(tmp_path), meta_tasks=True).splitlines()
    assert lines[0] == "| model | benchmark | tasks | overall | image | image | X-RET |"
    assert lines[2].endswith("| 37.5 | 50.0 | 25.0 |")  # modality mean, then the meta-task's
