"""Templates from strangers end soon and stay small: every hostile one is refused, fast, in one
line naming the limit; the templates of the built-in tasks render as before.

Each refusal is also timed against a generous bound (5 s): the point is that it is bounded,
and that a huge operation is refused before it runs rather than measured after.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from conftest import write_task

from harness.cli import main
from harness.errors import TaskFileError
from harness.taskspec import load_task_file, render
from harness.taskspec import template_budget as budget_module
from harness.taskspec.limits import (
    CALL_MAX_DEPTH,
    INT_MAX_BITS,
    LOOP_MAX_ITERATIONS,
    RANGE_MAX,
    RENDER_MAX_CHARS,
    RENDER_OUTPUT_MAX_CHARS,
    TEMPLATE_MAX_CHARS,
)
from harness.taskspec.templates import TemplateError, check_template

TOO_LONG = f"would exceed {RENDER_MAX_CHARS} characters (render limit)"
OUTPUT_TOO_LONG = f"template output exceeds {RENDER_OUTPUT_MAX_CHARS} characters (output limit)"
TOO_MANY_BITS = f"would give an integer of more than {INT_MAX_BITS} bits (integer limit)"
MEGA = "{% set b = 'x' * 1000000 %}"  # a string just under the render limit


def refusal(source: str, **variables: object) -> str:
    """The one-line error ``source`` renders to, checked to come within 5 seconds."""
    start = time.monotonic()
    with pytest.raises(TemplateError) as error:
        check_template(source)
        render(source, variables)
    assert time.monotonic() - start < 5, source
    message = str(error.value)
    assert "\n" not in message
    return message


# --- loops and ranges -----------------------------------------------------------------------------


@pytest.mark.parametrize("source", ["{{ range(10**9) | list }}", "{% for i in range(100000) %}x{% endfor %}"])
def test_range_is_limited(source: str):
    assert refusal(source) == f"range() of more than {RANGE_MAX} items (range limit)"


def test_range_of_the_limit_renders():
    assert render(f"{{{{ range({RANGE_MAX}) | list | length }}}}", {}) == str(RANGE_MAX)


def test_nested_loops_stop_at_the_loop_limit():
    source = "{% for i in range(10000) %}{% for j in range(10000) %}{% endfor %}{% endfor %}"

    assert refusal(source) == f"template loops ran more than {LOOP_MAX_ITERATIONS} iterations (loop limit)"


def test_loops_over_a_long_string_count_too():
    assert refusal("{% for c in text %}{% endfor %}", text="x" * (LOOP_MAX_ITERATIONS + 1)).endswith("(loop limit)")


def test_a_slow_render_stops_at_the_time_limit(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(budget_module, "RENDER_TIME_LIMIT_S", 0.05)
    source = "{% for i in range(10000) %}{{ text | wordcount }}{% endfor %}"  # ~1 ms a step, within the other limits

    assert refusal(source, text="x " * 50_000) == "template rendering took more than 0.05 s (time limit)"


# --- output and captured text ----------------------------------------------------------------------


def test_output_is_stopped_at_the_render_limit_while_it_streams():
    source = "{% for i in range(10000) %}{{ chunk }}{% endfor %}"  # 10 GB if it were built

    assert refusal(source, chunk="y" * 1_000_000) == OUTPUT_TOO_LONG


def test_captured_text_counts_against_the_render_limit():
    source = "{% set x %}{% for i in range(10000) %}{{ chunk }}{% endfor %}{% endset %}{{ x | length }}"

    assert refusal(source, chunk="y" * 2000) == OUTPUT_TOO_LONG


def test_output_of_the_limit_renders():
    assert len(render("{{ 'x' * n }}", {"n": RENDER_MAX_CHARS})) == RENDER_MAX_CHARS


# --- operators ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "source", ["{{ 'a' * 10**9 }}", "{{ 'x' * 999999999 }}", "{{ [1] * 10**9 }}", "{{ 10**9 * 'a' }}"]
)
def test_repeating_a_string_or_list_past_the_limit_is_refused_before_it_runs(source: str):
    assert refusal(source) == f"'*' {TOO_LONG}"


@pytest.mark.parametrize("source", ["{{ 10 ** (10 ** 9) }}", "{{ (2 ** 64) ** (2 ** 64) }}", "{{ 9 ** (9 ** 9) }}"])
def test_huge_powers_are_refused_before_they_run(source: str):
    assert refusal(source) == f"'**' {TOO_MANY_BITS}"


def test_squaring_in_a_loop_stops_at_the_integer_limit():
    source = "{% set ns = namespace(n=3) %}{% for i in range(40) %}{% set ns.n = ns.n * ns.n %}{% endfor %}"

    assert refusal(source) == f"'*' {TOO_MANY_BITS}"


@pytest.mark.parametrize("join", ["~", "+"])
def test_doubling_a_string_in_a_loop_stops_at_the_render_limit(join: str):
    source = (
        f"{{% set ns = namespace(s='x') %}}{{% for i in range(40) %}}{{% set ns.s = ns.s {join} ns.s %}}{{% endfor %}}"
    )

    assert refusal(source).endswith(TOO_LONG)


def test_concatenating_long_strings_is_refused_before_joining():
    assert refusal(MEGA + "{{ (b ~ b ~ b) | length }}") == f"'~' {TOO_LONG}"


# --- values whose text would be huge ----------------------------------------------------------------------


def test_a_list_of_many_references_to_a_long_string_is_refused():
    assert refusal(MEGA + "{{ [b] * 1000 }}") == f"'*' {TOO_LONG}"


def test_a_list_literal_whose_text_would_be_huge_is_refused():
    assert refusal(MEGA + "{{ [b, b, b] | length }}") == f"a list or dict literal {TOO_LONG}"


def test_a_namespace_whose_attributes_would_be_huge_is_refused():
    source = MEGA + "{% set ns = namespace(a=b) %}{% set ns.c = b %}"

    assert refusal(source) == f"namespace {TOO_LONG}"


# --- filters and methods that multiply their input ------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "what"),
    [
        ("{{ 'a' | center(10**9) }}", "center"),
        ("{{ 'x' | indent(10**9) }}", "indent"),
        ("{{ text | indent(10**6) }}", "indent"),
        ("{{ 'x x' | wordwrap(1, wrapstring='y' * 10**6) }}", "wordwrap"),
        ("{{ '%999999999d' | format(1) }}", "%-formatting"),
        ("{{ '%999999999s' % 'x' }}", "%-formatting"),
        ("{{ text | replace('', 'y' * 1000) }}", "replace"),
        ("{{ (['x'] * 1000) | join('y' * 10**6) }}", "join"),
        ("{{ 'x'.ljust(10**9) }}", "ljust"),
        ("{{ 'a'.zfill(10**9) }}", "zfill"),
        ("{{ text.replace('', 'y' * 1000) }}", "replace"),
        ("{{ ('y' * 10**6).join(['x'] * 1000) }}", "join"),
        ("{{ ('\t' * 1000).expandtabs(10**6) }}", "expandtabs"),
        ("{{ 'aaaa'.translate({97: 'y' * 10**6}) }}", "translate"),
        ("{{ (1).to_bytes(10**9, 'big') }}", "to_bytes"),
        ("{{ '{:>999999999}'.format('x') }}", "str.format"),
        ("{{ '{0}' * 1000 }}", None),
    ],
)
def test_padding_and_repeating_are_checked_before_they_run(source: str, what: str | None):
    if what is None:  # a long but legal template: rendered, not refused
        assert render(source, {}) == "{0}" * 1000
        return
    assert refusal(source, text="x\n" * 5000) == f"{what} {TOO_LONG}"


def test_a_huge_filter_call_on_constants_is_not_run_at_compile_time():
    start = time.monotonic()

    check_template("{{ 'a' | center(1000000000) }}")  # jinja folds constant filters while compiling

    assert time.monotonic() - start < 5


def test_format_widths_taken_from_arguments_are_refused():
    assert refusal("{{ '{0:{1}}'.format('x', 10**9) }}").endswith("(format limit)")
    assert refusal("{{ '%*s' % (10**9, 'x') }}").endswith("(format limit)")


@pytest.mark.parametrize(
    ("source", "limit"),
    [
        ("{{ [1] | batch(10**9, 'x') | list }}", "(range limit)"),
        ("{{ [1] | slice(10**9) | list }}", "(range limit)"),
        ("{{ [[1], [2]] | sum(start=[]) }}", "adds numbers only"),
        ("{{ {'a': 1} | tojson(indent=10**6) }}", "indent is not available"),
    ],
)
def test_filters_that_grow_by_a_count_or_a_copy_are_limited(source: str, limit: str):
    assert limit in refusal(source)


@pytest.mark.parametrize("name", ["lipsum(n=10**6)", "'x' | pprint"])
def test_lipsum_and_pprint_are_not_available(name: str):
    message = refusal("{{ " + name + " }}")

    assert "lipsum" in message or "pprint" in message


# --- calls ------------------------------------------------------------------------------------------------


def test_macro_recursion_stops_at_the_call_depth_limit():
    source = "{% macro f() %}{{ f() }}{% endmacro %}{{ f() }}"

    assert refusal(source) == f"template calls nest deeper than {CALL_MAX_DEPTH} levels (call depth limit)"


def test_recursive_loop_stops_at_the_call_depth_limit():
    assert refusal("{% for x in range(3) recursive %}{{ loop(range(3)) }}{% endfor %}").endswith("(call depth limit)")


def test_fan_out_of_macros_stops_at_the_loop_limit():
    source = (
        "{% macro f(n) %}{% for i in range(10) %}{{ f(n + 1) if n < 6 else '' }}{% endfor %}{% endmacro %}{{ f(0) }}"
    )

    assert refusal(source).endswith("(loop limit)")


class _Picture:
    """A rich object in a row, like a decoded image, whose methods could do heavy work."""

    size = (2, 2)

    def resize(self, size: tuple[int, int]) -> str:
        raise AssertionError("a template must not be able to call this")


def test_methods_of_rich_objects_in_rows_cannot_be_called():
    assert "unsafe" in refusal("{{ image.resize((10**5, 10**5)) }}", image=_Picture())


def test_plain_attributes_of_rich_objects_can_be_read():
    assert render("{{ image.size[0] }}", {"image": _Picture()}) == "2"


# --- compiling ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("tag", ["{% block b %}x{% endblock %}", "{% include 'x' %}", "{% extends 'x' %}"])
def test_template_inheritance_and_includes_are_refused(tag: str):
    assert refusal(tag).endswith("is not available in task templates (template line 1)")


@pytest.mark.parametrize(
    "source",
    [
        "{{ " + "(" * 300 + "1" + ")" * 300 + " }}",
        "{% if 1 %}" * 200 + "{% endif %}" * 200,
        "{% for a in x %}" * 30 + "{% endfor %}" * 30,
    ],
    ids=["parentheses", "ifs", "fors"],
)
def test_deeply_nested_template_is_a_template_error(source: str):
    assert refusal(source, x=[1]).startswith("template nests too deeply to compile")


def test_template_source_over_the_size_limit_is_refused():
    message = refusal("x" * (TEMPLATE_MAX_CHARS + 1))

    assert message == f"template has more than {TEMPLATE_MAX_CHARS} characters (template size limit)"


# --- what the built-in templates use still works -------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("{{ s.strip() }}|{{ s.lstrip('. ') }}|{{ s.rstrip() }}", ". A. b|A. b | . A. b"),
        ("{{ s.startswith(' . A') }}{{ s.endswith('b ') }}", "TrueTrue"),
        ("{{ s.replace('A', 'Z') }}", " . Z. b "),
        ("{{ s.split('.') | length }}{{ s.find('b') }}{{ s.rfind('.') }}{{ s.index('A') }}", "3643"),
        ("{{ s[s.find('. '):].strip('. ') }}", "A. b"),
        ("{{ ', '.join(['a', 'b']) }}", "a, b"),
        ("{{ p | basename }} {{ p | stem }}", "c.mp4 c"),
        ("{{ ['a', 1] | tojson }}", '["a", 1]'),
        ("{{ ' x ' | trim }}{{ '7' | int + 1 }}{{ ['a', 'b'] | join('/') }}", "x8a/b"),
        ("{{ '%05d' | format(42) }} {{ '{:>4}'.format('x') }}", "00042    x"),
        (
            "{% set ns = namespace(ids=[]) %}{% for i in [1, 2] %}{% set ns.ids = ns.ids + [i] %}{% endfor %}"
            "{{ ns.ids }}",
            "[1, 2]",
        ),
        ("{% filter replace(' \\n', '\\n') %}a \nb{% endfilter %}", "a\nb"),
        ("{% for c in ['x', 'y'] %}{{ loop.index0 }}{{ c }}{{ '' if loop.last else ',' }}{% endfor %}", "0x,1y"),
        ("{% macro m(v) %}<{{ v }}>{% endmacro %}{{ m('a') ~ m('b') }}", "<a><b>"),
    ],
)
def test_what_builtin_templates_use_still_renders(source: str, expected: str):
    assert render(source, {"s": " . A. b ", "p": "a/b/c.mp4"}) == expected


# --- through the task loader and the data layer ---------------------------------------------------------------


def test_a_refused_template_is_a_load_error_naming_file_line_and_key(tmp_path: Path):
    path = write_task(tmp_path, "t", query={"template": "{% include 'x' %}"})
    line = next(n for n, text in enumerate(path.read_text().splitlines(), 1) if "include" in text)

    with pytest.raises(TaskFileError) as error:
        load_task_file(path)

    assert str(error.value) == (
        f"{path}:{line}: query.template: {{% include %}} is not available in task templates (template line 1)"
    )


def test_a_limit_hit_while_rendering_rows_names_task_row_key_and_limit(
    tmp_path: Path, mmeb_basedir: Path, capsys: pytest.CaptureFixture[str]
):
    path = write_task(tmp_path, "t", query={"template": "{{ IMAGE }} {{ qry_text * 100000000 }}"})

    status = main(["validate", str(path), "--data_basedir", str(mmeb_basedir)])

    out = capsys.readouterr().out
    assert status != 0
    line = out.splitlines()[0]
    assert line.startswith("FAIL  ")
    assert "task 't', " in line and "ImageNet-1K/test.jsonl:" in line
    assert line.endswith(f": query.template: '*' {TOO_LONG}")


def test_a_long_row_value_passes_through_whole_but_what_is_built_from_it_stays_bounded():
    document = "z" * (2 * RENDER_MAX_CHARS)  # a LongEmbed-sized document: over the build limit
    row = {"text": document}
    assert render("{{ row.text }}", {"row": row}) == document
    assert render("{{ row.get('text') or row.get('content') }}", {"row": row}) == document
    assert render("{% set t = row.get('text') %}{{ t }}", {"row": row}) == document
    assert refusal("{{ row.get('text') ~ '!' }}", row=row) == f"'~' {TOO_LONG}"
    assert refusal("{{ row.get('text').upper() }}", row=row) == f"upper() {TOO_LONG}"


def test_output_of_long_row_values_is_stopped_at_the_output_limit():
    chunk = "y" * (RENDER_OUTPUT_MAX_CHARS // 4)
    assert refusal("{% for i in range(5) %}{{ row.get('t') }}{% endfor %}", row={"t": chunk}) == OUTPUT_TOO_LONG
