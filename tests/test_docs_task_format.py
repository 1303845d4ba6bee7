"""docs/task_format.md's field reference is the one generated from the schema's docstrings."""

from __future__ import annotations

import difflib
import importlib.util
import inspect
import sys
from pathlib import Path
from types import ModuleType

import pytest
from pydantic import BaseModel

from harness.taskspec import schema
from harness.taskspec.schema import StrictModel

REPO = Path(__file__).resolve().parents[1]
DOCS = REPO / "docs" / "task_format.md"


def _load_generator() -> ModuleType:
    """``scripts/generate_task_format_docs.py`` as a module (``scripts/`` is not a package)."""
    path = REPO / "scripts" / "generate_task_format_docs.py"
    spec = importlib.util.spec_from_file_location("generate_task_format_docs", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)
    return module


generator = _load_generator()


def _schema_models() -> list[type[BaseModel]]:
    """Every model class defined in ``harness/taskspec/schema.py`` except the shared base."""
    return [
        value
        for value in vars(schema).values()
        if inspect.isclass(value)
        and issubclass(value, BaseModel)
        and value.__module__ == schema.__name__
        and value is not StrictModel
    ]


def test_committed_field_reference_matches_the_schema():
    committed = DOCS.read_text(encoding="utf-8")
    expected = generator.splice(committed, generator.render_field_reference())
    if committed != expected:
        diff = difflib.unified_diff(
            committed.splitlines(), expected.splitlines(), "committed", "generated", lineterm="", n=1
        )
        pytest.fail(
            "docs/task_format.md is out of date with harness/taskspec/schema.py: "
            f"run {generator.REGENERATE}\n" + "\n".join(list(diff)[:60]),
            pytrace=False,
        )


def test_every_schema_model_and_field_has_a_docstring():
    assert generator.undocumented(generator.schema_sections()) == []


def test_every_field_of_every_schema_model_is_in_the_reference():
    documented = {(row.model, row.name) for section in generator.schema_sections() for row in section.rows}
    fields = {(model, name) for model in _schema_models() for name in model.model_fields}
    assert fields - documented == set()


def test_a_field_without_a_docstring_is_refused():
    class Undocumented(StrictModel):
        """A model with one field documented and one not."""

        documented: int = 1
        """This one has a docstring."""
        bare: str = ""

    with pytest.raises(generator.SchemaDocsError, match=r"missing: Undocumented\.bare$"):
        generator.render_field_reference([("Example", Undocumented)])


def test_each_file_kind_heads_its_own_table_followed_by_its_nested_models():
    headings = [section.heading for section in generator.schema_sections()]
    assert headings[0] == "Task files"
    assert headings[1:8] == [
        "`dataset`",
        "`dataset.discover`",
        "`dataset.generate` (generator: `tut_sound_events`)",
        "`dataset.generate` (generator: `ave_split`)",
        "`dataset.explode`",
        "`query`",
        "`candidates`",
    ]
    assert headings[-1] == "Group files"


def test_relevance_variants_each_get_a_table_headed_by_their_kind():
    headings = [section.heading for section in generator.schema_sections()]
    for kind in ("first_candidate", "id_template", "ids_template", "candidate_flag", "qrels"):
        assert f"`relevance` (kind: `{kind}`)" in headings


def test_a_model_used_twice_is_tabled_once_and_referred_to_after():
    sections = generator.schema_sections()
    assert [section.heading for section in sections if section.model is schema.DatasetSource] == ["`dataset`"]
    corpus = next(row for section in sections for row in section.rows if row.key == "candidates.corpus")
    assert corpus.type_text == "mapping or null (the keys of `dataset`)"


def test_types_and_defaults_are_written_as_in_yaml():
    rows = {row.key: row for section in generator.schema_sections() for row in section.rows}
    assert (rows["video.num_frames"].type_text, rows["video.num_frames"].default_text) == ("integer (>= 1)", "`8`")
    assert (rows["ranking"].type_text, rows["ranking"].default_text) == ("`local` or `global`", "required")
    assert rows["metrics.k"].default_text == "`[1, 5, 10]`"
    assert rows["description"].default_text == '`""`'


def test_pipes_in_a_docstring_are_escaped_in_its_table_cell():
    row = next(
        row for section in generator.schema_sections() for row in section.rows if row.key == "candidates.items_template"
    )
    assert "{{ [a0, a1, a2] \\| tojson }}" in row.markdown()


def test_regeneration_keeps_the_text_outside_the_markers():
    document = f"intro\n{generator.BEGIN_MARKER}\nold table\n{generator.END_MARKER}\noutro\n"
    assert generator.splice(document, "new table") == (
        f"intro\n{generator.BEGIN_MARKER}\n\nnew table\n\n{generator.END_MARKER}\noutro\n"
    )


def test_a_document_without_the_markers_is_refused():
    with pytest.raises(generator.SchemaDocsError, match="exactly one"):
        generator.splice("no markers here\n", "table")
