"""The fromjson and dumpjson template filters: json.loads / json.dumps, bounded."""

from __future__ import annotations

import pytest

from harness.taskspec.limits import JSON_MAX_DEPTH, RENDER_MAX_CHARS
from harness.taskspec.schema import CandidateSpec
from harness.taskspec.templates import TemplateError, render


def test_fromjson_then_dumpjson_is_json_dumps_with_keys_in_order():
    text = '{"b":1,"a":["é",null,true,1.5]}'
    assert render("{{ s | fromjson | dumpjson }}", {"s": text}) == '{"b": 1, "a": ["\\u00e9", null, true, 1.5]}'


def test_dumpjson_sort_keys_and_no_html_escaping():
    assert render("{{ v | dumpjson(sort_keys=true) }}", {"v": {"b": "<&>'", "a": 1}}) == '{"a": 1, "b": "<&>\'"}'


def test_fromjson_default_is_returned_for_text_that_is_not_json():
    assert render("{{ s | fromjson(default=s) }}", {"s": "plain text"}) == "plain text"


def test_fromjson_without_default_refuses_text_that_is_not_json():
    with pytest.raises(TemplateError, match="the fromjson filter: not valid JSON"):
        render("{{ s | fromjson }}", {"s": "{oops"})


def test_fromjson_refuses_values_that_are_not_text():
    with pytest.raises(TemplateError, match="reads text, got list"):
        render("{{ s | fromjson }}", {"s": [1]})


@pytest.mark.parametrize(
    "text",
    [
        "[" * (JSON_MAX_DEPTH + 1) + "]" * (JSON_MAX_DEPTH + 1),  # just too deep
        "[" * 200_000,  # deep enough to exhaust Python's recursion in the parser
        '{"a":' * 5000 + "1" + "}" * 5000,
    ],
)
def test_fromjson_refuses_deep_json_in_one_line(text: str):
    with pytest.raises(TemplateError, match=r"JSON nested more than \d+ deep \(JSON depth limit\)") as error:
        render("{{ s | fromjson }}", {"s": text})
    assert "\n" not in str(error.value)


def test_fromjson_refuses_huge_text():
    with pytest.raises(TemplateError, match="render limit"):
        render("{{ s | fromjson }}", {"s": "[" + "1," * RENDER_MAX_CHARS + "1]"})


def test_fromjson_refuses_an_integer_python_will_not_convert_in_one_line():
    with pytest.raises(TemplateError, match="the fromjson filter: Exceeds the limit") as error:
        render("{{ s | fromjson }}", {"s": "9" * 5000})
    assert "\n" not in str(error.value)


def test_dumpjson_refuses_deep_and_huge_values():
    deep: list[object] = []
    for _ in range(JSON_MAX_DEPTH + 1):
        deep = [deep]
    with pytest.raises(TemplateError, match="JSON depth limit"):
        render("{{ v | dumpjson }}", {"v": deep})
    with pytest.raises(TemplateError, match="render limit"):
        render("{{ v | dumpjson }}", {"v": ["x" * 1000] * 2000})


def test_dumpjson_refuses_values_json_cannot_write():
    with pytest.raises(TemplateError, match="the dumpjson filter: Object of type bytes"):
        render("{{ v | dumpjson }}", {"v": {"a": b"x"}})


def test_candidates_image_template_excludes_image_column():
    with pytest.raises(ValueError, match="give image_template or image_column"):
        CandidateSpec(
            corpus={"files": ["c.jsonl"]},
            template="{{ IMAGE }}",
            id_template="{{ cand.id }}",
            image_template="{{ cand.p }}",
            image_column="p",
        )
