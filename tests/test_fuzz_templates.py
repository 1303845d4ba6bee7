"""Property: any template, however hostile, renders a bounded text or fails with one line, soon.

For arbitrary source text, for sources stitched from Jinja fragments, and for generated
expressions combining the growing operators (``*``, ``**``, ``+``, ``~``, ``%``, padding filters
and methods, ranges, loops and macros), ``check_template`` and ``render`` either give a text of
at most the render limit or raise :class:`TemplateError` with a one-line message; never
another exception, and within the per-example deadline.
"""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from harness.taskspec.limits import RENDER_OUTPUT_MAX_CHARS
from harness.taskspec.templates import TemplateError, check_template, render

FUZZ = settings(
    max_examples=300,
    # ms per example: a render may take its whole 2 s time budget, and an example renders and
    # checks; 30 s leaves room for a loaded 2-core machine (a fresh-clone CI run took 14 s once for
    # an example that takes 2 s on a retry). The point is that it ends, not how fast.
    deadline=30_000,
    database=None,  # no .hypothesis/ folder in the working tree
    suppress_health_check=[HealthCheck.too_slow],
)
ROW = {"qry_text": "a photo\nof a cat", "tgt_text": ["cat", "dog"], "n": 3, "row": {"query-id": "q1"}}


def render_outcome(source: str) -> str | TemplateError:
    """The text ``source`` renders to with a small row, or its one-line error (nothing else)."""
    try:
        check_template(source)
        text = render(source, ROW)
    except TemplateError as error:
        assert "\n" not in str(error), str(error)
        return error
    assert len(text) <= RENDER_OUTPUT_MAX_CHARS  # built values: RENDER_MAX_CHARS each; output: this
    return text


@FUZZ
@given(source=st.text(max_size=300))
def test_arbitrary_source_renders_or_fails_in_one_line(source: str):
    render_outcome(source)


FRAGMENTS = st.sampled_from(
    ["{{", "}}", "{%", "%}", "{#", "#}", " for x in ", " endfor ", " if ", " endif ", " set ", " endset ", " macro ",
     " endmacro ", " call ", " endcall ", " filter ", " endfilter ", " recursive ", " loop(", "range(", "(", ")", "[",
     "]", ",", "*", "**", "+", "~", "%", "|", "'x'", "'%s'", "'{:>9}'", "10**9", "2**64", "9", "-1", "qry_text",
     "tgt_text", "row", "cand", "namespace(", "lipsum(", "self", "caller()", "loop", ".center(", ".join(", ".format(",
     "|center(", "|indent(", "|wordwrap(", "|join(", "|replace(", "|format(", "|batch(", "|slice(", "|sum", "|list",
     "|tojson", "|string", "__class__", "._", "=", "==", " and ", " not ", " is ", " in ", "\n", "{% raw %}"]
)  # fmt: skip


@FUZZ
@given(pieces=st.lists(FRAGMENTS, max_size=40))
def test_sources_stitched_from_jinja_fragments_render_or_fail_in_one_line(pieces: list[str]):
    render_outcome("".join(pieces))


ATOMS = st.sampled_from(
    ["1", "2", "9", "64", "10**6", "10**9", "2**64", "-3", "0", "'x'", "'ab'", "'%s'", "'%9d'", "'{}'", "'{:>99}'",
     "qry_text", "tgt_text", "[1]", "['x', 'y']", "range(10)", "range(n)", "{'a': 1}", "(1, 2)", "none", "true",
     "('x' * 1000000)", "(range(10000) | list)", "(['y' * 100000] * 5)", "('\\t' * 1000)", "('a\\n' * 100000)"]
)  # fmt: skip
BINARY = st.sampled_from(["*", "**", "+", "~", "%", "-", "//"])
SUFFIXES = st.sampled_from(
    ["|center({})", "|indent({})", "|wordwrap({})", "|join({})", "|replace('x', {})", "|format({})", "|batch({})",
     "|slice({})", "|list", "|string", "|length", "|sum", "|tojson", "|reverse", "|first", "|unique|list",
     ".center({})", ".ljust({})", ".zfill({})", ".join({})", ".replace('', {})", ".format({})", ".split()",
     ".expandtabs({})", "[0]", "[1:]"]
)  # fmt: skip


def _combine(children: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    binary = st.tuples(children, BINARY, children).map(lambda t: f"({t[0]} {t[1]} {t[2]})")
    suffixed = st.tuples(children, SUFFIXES, children).map(lambda t: f"({t[0]}){t[1].format(t[2])}")
    return st.one_of(binary, suffixed)


EXPRESSIONS = st.recursive(ATOMS, _combine, max_leaves=12)


@FUZZ
@given(expression=EXPRESSIONS)
def test_hostile_expressions_render_or_fail_in_one_line(expression: str):
    render_outcome("{{ " + expression + " }}")


@FUZZ
@given(
    loops=st.lists(EXPRESSIONS, min_size=1, max_size=4),
    body=EXPRESSIONS,
    capture=st.booleans(),
    accumulate=st.sampled_from(["", "{% set ns.v = ns.v ~ ns.v %}", "{% set ns.v = ns.v + ns.v %}"]),
)
def test_hostile_loops_render_or_fail_in_one_line(loops: list[str], body: str, capture: bool, accumulate: str):
    source = "{% set ns = namespace(v='ab') %}" + "".join(f"{{% for i{n} in {it} %}}" for n, it in enumerate(loops))
    source += "{{ " + body + " }}" + accumulate + "{% endfor %}" * len(loops)
    if capture:
        source = "{% set captured %}" + source + "{% endset %}{{ captured|length }}"
    render_outcome(source)


@FUZZ
@given(body=EXPRESSIONS, depth_guard=st.sampled_from(["", "{% if n < 40 %}", "{% if n < 4 %}"]))
def test_hostile_macros_render_or_fail_in_one_line(body: str, depth_guard: str):
    close = "{% endif %}" if depth_guard else ""
    source = (
        "{% macro f(n) %}{{ " + body + " }}" + depth_guard + "{{ f(n + 1) }}{{ f(n + 1) }}" + close + "{% endmacro %}"
        "{{ f(0) }}"
    )
    render_outcome(source)
