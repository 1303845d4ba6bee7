"""The static site's stylesheet, script and Content-Security-Policy (all inline in index.html).

The script only reorders, hides and opens elements already rendered (and escaped) by the
template; it never turns entry strings into HTML, and it finds elements only by ids the
site derived from data (:mod:`harness.leaderboard.element_ids`). The policy allows exactly
this stylesheet and this script, by their SHA-256, and nothing else: an element injected
into the page could neither run nor load anything.
"""

import base64
import hashlib

STYLE = """
body { font-family: system-ui, sans-serif; margin: 1.5rem; color: #222; }
table.board, table.tasks { border-collapse: collapse; margin: 0.5rem 0 1.5rem; font-size: 0.9rem; }
th, td { border-bottom: 1px solid #ddd; padding: 0.25rem 0.5rem; text-align: right; }
th:first-child, td:first-child, td.text, th.text { text-align: left; }
th button { font: inherit; font-weight: bold; border: 0; background: none; cursor: pointer; padding: 0; }
th[aria-sort="ascending"] button::after { content: " \\25B2"; }
th[aria-sort="descending"] button::after { content: " \\25BC"; }
tr.hidden { display: none; }
svg.chart text { font-size: 11px; fill: #222; }
svg.chart line.grid { stroke: #ccc; stroke-width: 1; }
details { margin: 0.25rem 0; }
.note { color: #666; font-size: 0.85rem; }
"""

SCRIPT = """
(function () {
  "use strict";
  function cellValue(row, index, numeric) {
    var raw = row.cells[index].getAttribute("data-value");
    if (raw === null || raw === "") { return null; }
    return numeric ? parseFloat(raw) : raw.toLowerCase();
  }
  function sortTable(table, name, direction) {
    var headers = table.tHead.rows[0].cells, index = -1, numeric = false;
    for (var i = 0; i < headers.length; i++) {
      headers[i].removeAttribute("aria-sort");
      if (headers[i].getAttribute("data-name") === name) {
        index = i;
        numeric = headers[i].getAttribute("data-type") === "num";
      }
    }
    if (index < 0) { return false; }
    headers[index].setAttribute("aria-sort", direction);
    var body = table.tBodies[0], rows = Array.prototype.slice.call(body.rows);
    rows.sort(function (a, b) {
      var x = cellValue(a, index, numeric), y = cellValue(b, index, numeric);
      if (x === null || y === null) { return (x === null) - (y === null); }
      var order = x < y ? -1 : (x > y ? 1 : 0);
      return direction === "ascending" ? order : -order;
    });
    rows.forEach(function (row) { body.appendChild(row); });
    return true;
  }
  function applyHash() {
    var match = /sort=([A-Za-z0-9-]+):([A-Za-z0-9-]+):(asc|desc)/.exec(location.hash);
    if (match) {
      var table = document.getElementById("table-" + match[1]);
      if (table) { sortTable(table, match[2], match[3] === "asc" ? "ascending" : "descending"); }
    }
    var entry = /entry=([0-9]+)/.exec(location.hash);
    if (entry) {
      var details = document.getElementById("entry-" + entry[1]);
      if (details) { details.open = true; details.scrollIntoView(); }
    }
  }
  document.querySelectorAll("table.board th button").forEach(function (button) {
    button.addEventListener("click", function () {
      var th = button.parentNode, table = th.closest("table");
      var next = th.getAttribute("aria-sort") === "descending" ? "ascending" : "descending";
      sortTable(table, th.getAttribute("data-name"), next);
    });
  });
  var filter = document.getElementById("benchmark-filter");
  filter.addEventListener("change", function () {
    document.querySelectorAll("table.board tbody tr").forEach(function (row) {
      row.classList.toggle("hidden", filter.value !== "" && row.getAttribute("data-benchmark") !== filter.value);
    });
  });
  window.addEventListener("hashchange", applyHash);
  applyHash();
  document.body.setAttribute("data-ready", "true");
})();
"""


def content_security_policy() -> str:
    """The page's policy: nothing but the inline :data:`STYLE` and :data:`SCRIPT`, by hash."""
    return "; ".join(
        [
            "default-src 'none'",
            f"script-src '{_sha256(SCRIPT)}'",
            f"style-src '{_sha256(STYLE)}'",
            "base-uri 'none'",
            "form-action 'none'",
        ]
    )


def _sha256(text: str) -> str:
    return "sha256-" + base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode("ascii")
