"""The static site: escaped strings, its files, and the page in a real headless Chromium."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest
from leaderboard_factory import make_entry

from harness.leaderboard import add_entry, build_site, list_entries

REPO = Path(__file__).resolve().parent.parent
EVIL = '<script>alert("x")</script> & <img src=x onerror=alert(1)>'
CHROMIUM = next((shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome") if shutil.which(n)), None)
needs_chromium = pytest.mark.skipif(
    CHROMIUM is None, reason="headless Chromium not installed (apt-get install chromium; .ci/run installs it)"
)


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """The committed reference entries plus a run entry and an entry whose model name is HTML."""
    board = tmp_path_factory.mktemp("board")
    shutil.copytree(REPO / "leaderboard" / "entries", board / "entries")
    add_entry(board, make_entry(name="org/new-model"))
    add_entry(board, make_entry(name=EVIL, pretrained="org/other"))
    entries = list_entries(board)
    out = board.parent / f"{board.name}-site"
    build_site(entries, out, generated_at="2026-01-01T00:00:00+00:00")
    return out, entries


class _Rows(HTMLParser):
    """Cells of the rows of one table (by id), and every script element met."""

    def __init__(self, table_id: str) -> None:
        super().__init__()
        self.table_id, self.inside, self.rows, self.scripts = table_id, False, [], 0
        self._cell: list[str] | None = None

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        if tag == "script":
            self.scripts += 1
        if tag == "table":
            self.inside = attributes.get("id") == self.table_id
        elif self.inside and tag == "tr":
            self.rows.append([])
        elif self.inside and tag == "td":
            self._cell = []

    def handle_endtag(self, tag):
        if tag == "table":
            self.inside = False
        elif tag == "td" and self._cell is not None:
            self.rows[-1].append("".join(self._cell))
            self._cell = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)


def _table(html: str, table_id: str = "table-overall") -> _Rows:
    parser = _Rows(table_id)
    parser.feed(html)
    parser.rows = [r for r in parser.rows if r]  # drop the header row
    return parser


def _chromium(args: list[str], url: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    command = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--enable-logging=stderr", "--v=0",
               f"--user-data-dir={tmp_path / 'profile'}", *args, url]
    return subprocess.run(command, capture_output=True, text=True, timeout=120, check=True)


def test_site_has_index_and_the_json(site):
    out, entries = site
    summary = json.loads((out / "leaderboard.json").read_text())
    assert len(summary["entries"]) == len(entries) == 26
    for item in summary["entries"]:
        assert json.loads((out / item["file"]).read_text())["schema_version"] == "2.0"
    assert "http" not in (out / "index.html").read_text().replace("http://www.w3.org/2000/svg", "")


def test_model_names_are_escaped_in_the_html(site):
    html = (site[0] / "index.html").read_text()
    assert EVIL not in html
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &lt;img src=x onerror=alert(1)&gt;" in html
    assert _table(html).scripts == 1  # only the page's own script


@needs_chromium
def test_page_loads_without_console_errors_and_lists_every_entry(site, tmp_path):
    out, entries = site
    result = _chromium(["--dump-dom"], (out / "index.html").as_uri(), tmp_path)
    console = [line for line in result.stderr.splitlines() if ":CONSOLE" in line]
    assert console == []
    assert 'data-ready="true"' in result.stdout  # the script ran to its end
    table = _table(result.stdout)
    assert table.scripts == 1
    assert sorted(row[0] for row in table.rows) == sorted(s.entry.model.name for s in entries)
    overall = [float(row[3]) for row in table.rows if row[3] != "–"]
    assert overall == sorted(overall, reverse=True)  # best first on load
    image_rows = _table(result.stdout, "table-image").rows
    assert len(image_rows) == sum("image" in s.entry.scores for s in entries)


@needs_chromium
@pytest.mark.parametrize(("column", "position"), [("overall", 3), ("model", 0), ("visdoc", 6)])
def test_sorting_reorders_the_rows(site, tmp_path, column, position):
    out, _entries = site
    result = _chromium(["--dump-dom"], (out / "index.html").as_uri() + f"#sort=overall:{column}:asc", tmp_path)
    values = [row[position] for row in _table(result.stdout).rows]
    present = [v for v in values if v != "–"]
    assert values[: len(present)] == present  # empty cells last
    key = str.casefold if column == "model" else float
    assert [key(v) for v in present] == sorted(key(v) for v in present)
    assert f'data-name="{column}" data-type' in result.stdout and 'aria-sort="ascending"' in result.stdout


@needs_chromium
def test_screenshot_is_produced(site, tmp_path):
    out, _entries = site
    shot = tmp_path / "leaderboard.png"
    _chromium([f"--screenshot={shot}", "--window-size=1280,2000", "--hide-scrollbars"], (out / "index.html").as_uri(),
              tmp_path)
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(data) > 20_000  # a rendered page, not a blank one


@needs_chromium
def test_model_link_opens_its_per_task_drilldown(site, tmp_path):
    out, entries = site
    number = next(n for n, s in enumerate(entries) if s.entry.model.name == "org/new-model")
    result = _chromium(["--dump-dom"], (out / "index.html").as_uri() + f"#entry={number}", tmp_path)
    opened = re.findall(r'<details id="entry-(\d+)" open="">', result.stdout)
    assert opened == [str(number)]
    assert f'href="#entry={number}">org/new-model</a>' in result.stdout
