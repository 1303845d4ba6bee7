"""The static site: escaped strings, its files, and the page in a real headless Chromium."""

from __future__ import annotations

import base64
import hashlib
import json
import re
import shutil
import subprocess
from html import escape, unescape
from html.parser import HTMLParser
from pathlib import Path

import pytest
from leaderboard_factory import PAGE_ATTRIBUTES, PAGE_TAGS, PageStructure, entry_with_keys, make_entry

from harness.leaderboard import StoredEntry, add_entry, build_site, list_entries
from harness.leaderboard.element_ids import element_ids
from harness.leaderboard.site import render_page

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
    command = [
        CHROMIUM,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--enable-logging=stderr",
        "--v=0",
        f"--user-data-dir={tmp_path / 'profile'}",
        *args,
        url,
    ]
    return subprocess.run(command, capture_output=True, text=True, timeout=120, check=True)


def test_site_has_index_and_the_json(site):
    out, entries = site
    summary = json.loads((out / "leaderboard.json").read_text())
    assert (
        len(summary["entries"]) == len(entries) == 33
    )  # 24 MMEB-V2 reference entries, 7 MMEB-V3 paper entries, 2 added here
    for item in summary["entries"]:
        assert json.loads((out / item["file"]).read_text())["schema_version"] == "2.0"
    urls = set(re.findall(r"[a-z]+://[^\"' <]*", (out / "index.html").read_text()))
    assert urls == {"http://www.w3.org/2000/svg"}  # the SVG namespace; nothing is fetched


def test_model_names_are_escaped_in_the_html(site):
    html = (site[0] / "index.html").read_text()
    assert EVIL not in html
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; &amp; &lt;img src=x onerror=alert(1)&gt;" in html
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
    _chromium(
        [f"--screenshot={shot}", "--window-size=1280,2000", "--hide-scrollbars"],
        (out / "index.html").as_uri(),
        tmp_path,
    )
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


# --- hostile entries ----------------------------------------------------------------------------

PWN = "document.body.setAttribute('data-pwned','1')"
HOSTILE = {
    "attribute": f'x"><img src=x onerror="{PWN}">',
    "script": f"</script><script>{PWN}</script>",
    "style": f"</style><img src=x onerror={PWN}>",
    "svg": f'<svg onload="{PWN}"><title>t</title></svg>',
    "quote": f"' onmouseover='{PWN}' x='",
    "url": f"javascript:{PWN}",
    "template": "{{7*7}} {% raw %}${7*7}",
    "comment": "<!-- --><b>bold</b>",
}
"""Payloads that would run, link, render or be evaluated if any layer of the page let them through."""
HOSTILE_KEYS = {"modality": HOSTILE["attribute"], "meta_task": HOSTILE["script"], "task": HOSTILE["url"]}
"""Keys the schema refuses; the page must escape them anyway (defence in depth)."""
STAMP = "2026-01-01T00:00:00+00:00"


@pytest.fixture(scope="module")
def hostile(tmp_path_factory):
    """index.html of entries carrying a payload in every string the schema allows, plus two with hostile keys."""
    board = tmp_path_factory.mktemp("hostile")
    for number, (kind, payload) in enumerate(HOSTILE.items()):
        entry = make_entry(name=payload, pretrained=f"org/{kind}", version=str(number), task_version=payload)
        entry.provenance.date = payload
        entry.provenance.command = [payload, kind]
        add_entry(board, entry)
    stored = list_entries(board)
    stored += [
        StoredEntry(board / f"keys-{n}.json", entry_with_keys(f"keys {n}", *HOSTILE_KEYS.values(), score=n / 4))
        for n in (1, 3)
    ]
    out = board / "index.html"
    out.write_text(render_page(stored, STAMP), encoding="utf-8")
    return out, stored


def test_hostile_strings_and_keys_add_no_element_attribute_or_link(hostile):
    out, _entries = hostile
    page = PageStructure(out.read_text())
    assert page.tags <= PAGE_TAGS
    assert page.attributes <= PAGE_ATTRIBUTES
    assert {link for link in page.links if not re.fullmatch(r"#entry=\d+", link)} == {"leaderboard.json"}
    assert out.read_text().count("<script>") == 1


def test_hostile_strings_and_keys_show_as_typed(hostile):
    out, _entries = hostile
    text = "".join(PageStructure(out.read_text()).text)
    for payload in [*HOSTILE.values(), *HOSTILE_KEYS.values()]:
        assert payload in text, payload
    assert "49" not in text  # {{7*7}} was not evaluated


def test_ids_are_slugs_unique_and_never_taken_from_a_key(hostile):
    out, _entries = hostile
    html = out.read_text()
    ids = PageStructure(html).ids
    assert len(ids) == len(set(ids))
    assert all(re.fullmatch(r"[A-Za-z0-9-]+", i) for i in ids), ids
    names = re.findall(r'data-name="([^"]*)"', html)
    assert all(re.fullmatch(r"[A-Za-z0-9-]+", n) for n in names), names
    assert {"table-overall", "table-image", "table-visdoc"} <= set(ids)


def test_the_policy_allows_exactly_the_inline_script_and_style(hostile):
    html = hostile[0].read_text()
    policy = unescape(re.search(r'http-equiv="Content-Security-Policy" content="([^"]*)"', html).group(1))
    directives = dict(d.strip().split(" ", 1) for d in policy.split(";"))
    script = re.search(r"<script>(.*)</script>", html, re.S).group(1)
    style = re.search(r"<style>(.*)</style>", html, re.S).group(1)
    assert directives == {
        "default-src": "'none'",
        "script-src": f"'{_sha256(script)}'",
        "style-src": f"'{_sha256(style)}'",
        "base-uri": "'none'",
        "form-action": "'none'",
    }
    assert html.index("Content-Security-Policy") < html.index("<style>")


def _sha256(text: str) -> str:
    return "sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode()


def _dom(page: Path, tmp_path: Path, fragment: str = "") -> tuple[str, list[str]]:
    """The DOM after load (and 2 s of the page's virtual time) and the console messages."""
    result = _chromium(["--virtual-time-budget=2000", "--dump-dom"], page.as_uri() + fragment, tmp_path)
    return result.stdout, [line for line in result.stderr.splitlines() if ":CONSOLE" in line]


def _body(dom: str) -> str:
    return re.search(r"<body[^>]*>", dom).group(0)


@needs_chromium
def test_no_payload_runs_and_nothing_violates_the_policy(hostile, tmp_path):
    dom, console = _dom(hostile[0], tmp_path)
    assert console == []  # no error, and no CSP violation: nothing tried to run
    assert _body(dom) == '<body data-ready="true">'  # the page's script ran; no payload did
    parsed = PageStructure(dom)  # the browser's DOM: no element or attribute the template does not emit
    assert parsed.tags <= PAGE_TAGS and parsed.attributes <= PAGE_ATTRIBUTES | {"data-ready"}


@needs_chromium
def test_hostile_modality_table_sorts_by_its_hostile_meta_task_column(hostile, tmp_path):
    out, _entries = hostile
    html = out.read_text()
    table = next(i for i in re.findall(r'id="table-([^"]+)"', html) if i not in ("overall", "image", "visdoc"))
    column = re.findall(rf'<table class="board" id="table-{table}">.*?</table>', html, re.S)[0]
    meta = [n for n in re.findall(r'data-name="([^"]+)"', column) if n not in ("model", "benchmark", "tasks")][-1]
    for direction, expected in (("asc", ["keys 1", "keys 3"]), ("desc", ["keys 3", "keys 1"])):
        dom, console = _dom(out, tmp_path, f"#sort={table}:{meta}:{direction}")
        assert console == []
        assert [row[0] for row in _table(dom, f"table-{table}").rows] == expected
        assert f'data-name="{meta}" data-type="num" aria-sort="{direction}ending"' in dom


@needs_chromium
def test_drilldown_of_a_hostile_entry_opens_and_shows_its_payloads(hostile, tmp_path):
    out, entries = hostile
    number = next(n for n, s in enumerate(entries) if s.entry.model.name == HOSTILE["script"])
    dom, console = _dom(out, tmp_path, f"#entry={number}")
    assert console == []
    assert re.findall(r'<details id="entry-(\d+)" open="">', dom) == [str(number)]
    opened = dom[dom.index(f'<details id="entry-{number}"') :]
    assert escape(HOSTILE["script"], quote=False) in opened[: opened.index("</details>")]


@needs_chromium
def test_the_policy_blocks_markup_that_escaped_escaping(site, tmp_path):
    # Were an escape ever missed, the policy is the second wall: nothing inline may run or load.
    page = tmp_path / "index.html"
    injected = f'<img src=x onerror="{PWN}"><script>{PWN}</script><div style="color:red" onclick="{PWN}"></div>'
    page.write_text((site[0] / "index.html").read_text().replace("</body>", injected + "</body>"))
    dom, console = _dom(page, tmp_path)
    assert _body(dom) == '<body data-ready="true">'
    assert sum("Content Security Policy" in line for line in console) >= 2  # the script and the handler


@needs_chromium
def test_header_clicks_and_the_benchmark_filter_work_under_the_policy(site, tmp_path):
    # A test script (allowed by adding its hash to the page's policy) clicks and filters as a person would.
    probe = (
        "var head = document.querySelector('#table-overall th[data-name=\"model\"] button'); head.click();"
        "var filter = document.getElementById('benchmark-filter'); filter.value = 'mmeb_v2@v2.1';"
        "filter.dispatchEvent(new Event('change'));"
        "var shown = document.querySelectorAll('#table-overall tbody tr:not(.hidden)');"
        "document.body.setAttribute('data-shown', String(shown.length));"
    )
    html = (site[0] / "index.html").read_text()
    html = html.replace("script-src &#39;", f"script-src &#39;{_sha256(probe)}&#39; &#39;", 1)
    page = tmp_path / "index.html"
    page.write_text(html.replace("</body>", f"<script>{probe}</script></body>"))
    dom, console = _dom(page, tmp_path)
    assert console == []
    entries = site[1]
    shown = sum(s.entry.benchmark.key() == "mmeb_v2@v2.1" for s in entries)
    assert f'data-shown="{shown}"' in _body(dom) and 0 < shown < len(entries)
    rows = _table(dom).rows
    visible = [r[0] for r in rows]
    assert visible == sorted(visible, key=str.casefold, reverse=True)  # first click: descending
    assert dom.count("<svg") == len({s.entry.benchmark.key() for s in entries})  # one chart per benchmark


# --- element ids --------------------------------------------------------------------------------


def test_plain_names_are_their_own_ids_so_documented_urls_keep_working():
    assert element_ids(["overall", "image", "I-CLS", "VD-ViDoRe-V1"]) == ["overall", "image", "I-CLS", "VD-ViDoRe-V1"]


def test_names_that_are_not_plain_ids_get_a_slug_and_a_stable_hash():
    (first,) = element_ids(['x"><img src=x>'])
    assert re.fullmatch(r"x-img-src-x--[0-9a-f]{10}", first)
    assert element_ids(['x"><img src=x>']) == [first]


def test_names_that_slug_alike_still_get_different_ids():
    names = ["I CLS", "i cls", "I_CLS", "i-cls", "I-CLS", "I--CLS", "", "-", "\u202e", "i-cls--0000000000"]
    ids = element_ids(names)
    assert len(set(ids)) == len(names)
    assert all(re.fullmatch(r"[A-Za-z0-9-]+", i) for i in ids)


def test_a_name_given_twice_keeps_its_plain_id_first_and_gets_another_after():
    ids = element_ids(["overall", "video", "video", "video"])
    assert ids[:2] == ["overall", "video"] and len(set(ids)) == 4


def test_a_meta_task_named_like_its_modality_gets_its_own_column_and_the_modality_sorts(tmp_path):
    board = tmp_path / "board"
    add_entry(board, make_entry(name="a", tasks={"alpha": ("image", "image", 0.9), "beta": ("image", "X", 0.1)}))
    add_entry(board, make_entry(name="b", tasks={"alpha": ("image", "image", 0.95), "beta": ("image", "X", 0.0)}))
    html = render_page(list_entries(board), STAMP)
    table = _table(html, "table-image")
    assert [row[0] for row in table.rows] == ["a", "b"]  # by the modality mean (50.0, 47.5), not the meta-task
    assert [row[3:] for row in table.rows] == [["50.0", "90.0", "10.0"], ["47.5", "95.0", "0.0"]]
    head = re.search(r'id="table-image">.*?</thead>', html, re.S).group(0)
    assert re.findall(r'data-name="([^"]+)"', head)[3:5] == ["image", element_ids(["image", "image"])[1]]
