"""Write the field reference of ``docs/task_format.md`` from the task-file schema.

The text between the ``<!-- BEGIN GENERATED: fields -->`` and ``<!-- END GENERATED: fields -->``
markers is made from the pydantic models of :mod:`harness.taskspec.schema`: one table per model,
one row per field with its dotted key, type, default and docstring (pydantic keeps the docstring
written under a field in ``FieldInfo.description``, as the models set
``use_attribute_docstrings=True``). A nested model gets its own table where it first appears;
later uses of it point there. The variants of a discriminated union (``relevance``) get one table
each, headed by their discriminator value. The text outside the markers is hand-written and kept.

``tests/test_docs_task_format.py`` fails when the committed file differs from what this writes.

Usage: ``python scripts/generate_task_format_docs.py`` (rewrites ``docs/task_format.md``).
"""

from __future__ import annotations

import argparse
import inspect
import re
import sys
import types
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal, Union, get_args, get_origin

import annotated_types
from pydantic import BaseModel
from pydantic.fields import FieldInfo
from pydantic.functional_validators import AfterValidator, BeforeValidator, PlainValidator, WrapValidator

from harness.taskspec.schema import GroupSpec, TaskSpec

DOCS_PATH = Path(__file__).resolve().parents[1] / "docs" / "task_format.md"
BEGIN_MARKER = "<!-- BEGIN GENERATED: fields -->"
END_MARKER = "<!-- END GENERATED: fields -->"
REGENERATE = "python scripts/generate_task_format_docs.py"

ROOTS: tuple[tuple[str, type[BaseModel]], ...] = (("Task files", TaskSpec), ("Group files", GroupSpec))
"""The file kinds documented, each with its heading: every other model is reached from these."""

_TABLE_HEAD = "| key | type | default | description |\n|---|---|---|---|"
_VALIDATORS = (AfterValidator, BeforeValidator, PlainValidator, WrapValidator)
"""Annotation metadata that checks values in code: its rule belongs in the field's docstring."""
_WORDS: dict[Any, str] = {
    str: "string",
    int: "integer",
    float: "number",
    bool: "boolean",
    type(None): "null",
    Any: "any value",
}
_PLURALS = {"string": "strings", "integer": "integers", "number": "numbers", "boolean": "booleans"}
_PLURALS |= {"mapping": "mappings", "any value": "any values"}


class SchemaDocsError(ValueError):
    """The schema cannot be documented as it stands (a field or model has no docstring)."""


@dataclass(frozen=True)
class FieldRow:
    """One documented field: where it sits in a file and what the table says about it."""

    model: type[BaseModel]
    name: str
    key: str
    type_text: str
    default_text: str
    description: str | None

    def markdown(self) -> str:
        """The field's table row."""
        cells = (f"`{self.key}`", self.type_text, self.default_text, _table_text(self.description or ""))
        return "| " + " | ".join(cells) + " |"


@dataclass(frozen=True)
class Section:
    """One table: a model's fields under a heading, after the model's docstring."""

    heading: str
    model: type[BaseModel]
    rows: tuple[FieldRow, ...]

    def markdown(self) -> str:
        """The heading, the model's docstring as paragraphs, and the table."""
        table = "\n".join([_TABLE_HEAD, *(row.markdown() for row in self.rows)])
        return "\n\n".join([f"### {self.heading}", _prose_text(self.model.__doc__ or ""), table])


def schema_sections(roots: Iterable[tuple[str, type[BaseModel]]] = ROOTS) -> list[Section]:
    """Every table, in document order: each root, then the nested models it uses, depth first."""
    documented_at: dict[type[BaseModel], str] = {}
    sections: list[Section] = []
    for heading, model in roots:
        sections += _model_sections(heading, model, "", documented_at)
    return sections


def undocumented(sections: Iterable[Section]) -> list[str]:
    """``Model.field`` (or ``Model``) for every field and model of ``sections`` without a docstring."""
    missing: list[str] = []
    for section in sections:
        if not (section.model.__doc__ or "").strip():
            missing.append(section.model.__name__)
        missing += [f"{row.model.__name__}.{row.name}" for row in section.rows if not (row.description or "").strip()]
    return missing


def render_field_reference(roots: Iterable[tuple[str, type[BaseModel]]] = ROOTS) -> str:
    """The markdown that goes between the markers; refuses a schema with an undocumented field."""
    sections = schema_sections(roots)
    missing = undocumented(sections)
    if missing:
        raise SchemaDocsError(
            f"every schema model and field needs a docstring (it is the documentation); missing: {', '.join(missing)}"
        )
    note = (
        "The tables below are generated from the docstrings in `harness/taskspec/schema.py` by "
        f"`{REGENERATE}`: edit the docstrings, then run it."
    )
    return "\n\n".join([note, *(section.markdown() for section in sections)])


def splice(document: str, generated: str) -> str:
    """``document`` with the text between its one pair of markers replaced by ``generated``."""
    if document.count(BEGIN_MARKER) != 1 or document.count(END_MARKER) != 1:
        raise SchemaDocsError(f"the document needs exactly one '{BEGIN_MARKER}' and one '{END_MARKER}' line")
    head, rest = document.split(BEGIN_MARKER)
    if END_MARKER not in rest:
        raise SchemaDocsError(f"'{END_MARKER}' comes before '{BEGIN_MARKER}'")
    tail = rest.split(END_MARKER)[1]
    return f"{head}{BEGIN_MARKER}\n\n{generated}\n\n{END_MARKER}{tail}"


def _model_sections(
    heading: str, model: type[BaseModel], prefix: str, documented_at: dict[type[BaseModel], str]
) -> list[Section]:
    """The table of ``model`` (keys prefixed with ``prefix``), then those of models first met in it."""
    documented_at[model] = heading
    rows: list[FieldRow] = []
    nested: list[Section] = []
    for name, field in model.model_fields.items():
        key = prefix + name
        models = _models_in(field.annotation)
        type_text = _type_text(field.annotation, field.metadata)
        if len(models) == 1:
            ((nested_model, inner_key),) = models
            if nested_model in documented_at:
                type_text += f" (the keys of {documented_at[nested_model]})"
            else:
                type_text += " (keys below)"
                nested += _model_sections(f"`{key}{inner_key}`", nested_model, f"{key}{inner_key}.", documented_at)
        elif models:
            type_text += f" (one of the `{key}` tables below)"
            for variant, inner_key in models:
                variant_heading = _variant_heading(key + inner_key, variant, field)
                nested += _model_sections(variant_heading, variant, f"{key}{inner_key}.", documented_at)
        rows.append(FieldRow(model, name, key, type_text, _default_text(field), field.description))
    return [Section(heading, model, tuple(rows)), *nested]


def _variant_heading(key: str, variant: type[BaseModel], field: FieldInfo) -> str:
    """``relevance`` (kind: ``qrels``) for a tagged union variant; the class name otherwise."""
    tag_field = variant.model_fields.get(field.discriminator) if isinstance(field.discriminator, str) else None
    if tag_field is not None and get_origin(tag_field.annotation) is Literal:
        tags = ", ".join(f"`{tag}`" for tag in get_args(tag_field.annotation))
        return f"`{key}` ({field.discriminator}: {tags})"
    return f"`{key}` (`{variant.__name__}`)"


def _models_in(annotation: Any, inner_key: str = "") -> list[tuple[type[BaseModel], str]]:
    """The pydantic models a field's value holds, each with the key part that leads into it:
    ``""`` for the value itself (``X | None`` and unions unwrapped), ``[]`` for a list's items,
    ``.<name>`` for a mapping's values."""
    origin, args = get_origin(annotation), get_args(annotation)
    if origin is Annotated:
        return _models_in(args[0], inner_key)
    if origin in (Union, types.UnionType):
        return [found for member in args for found in _models_in(member, inner_key)]
    if _is_mapping(origin) and len(args) == 2:
        return _models_in(args[1], inner_key + ".<name>")
    if _is_sequence(origin) and args:
        return _models_in(args[0], inner_key + "[]")
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [(annotation, inner_key)]
    return []


def _is_mapping(origin: Any) -> bool:
    return origin is dict or (isinstance(origin, type) and issubclass(origin, Mapping))


def _is_sequence(origin: Any) -> bool:
    """``list``, ``tuple``, ``set`` and the like (not ``str``, which has no generic origin)."""
    return origin in (list, tuple, set, frozenset) or (isinstance(origin, type) and issubclass(origin, Sequence))


def _type_text(annotation: Any, metadata: Sequence[Any] = ()) -> str:
    """A type in words, e.g. ``list of strings``, ``integer (>= 1)``, or the values of a ``Literal``."""
    origin = get_origin(annotation)
    if origin is Annotated:
        base, *inner = get_args(annotation)
        return _type_text(base, [*inner, *metadata])
    bounds = [text for text in (_constraint_text(item) for item in metadata) if text]
    text = _bare_type_text(annotation, origin)
    return f"{text} ({', '.join(bounds)})" if bounds else text


def _bare_type_text(annotation: Any, origin: Any) -> str:
    if origin is Literal:
        choices = [f"`{_value_text(choice)}`" for choice in get_args(annotation)]
        return choices[0] if len(choices) == 1 else ", ".join(choices[:-1]) + " or " + choices[-1]
    if origin in (Union, types.UnionType):
        members = dict.fromkeys(_type_text(member) for member in get_args(annotation))
        return " or ".join(members)
    if _is_sequence(origin):
        item = _type_text(get_args(annotation)[0]) if get_args(annotation) else "any value"
        return f"list of {_PLURALS.get(item, item)}"
    if _is_mapping(origin):
        return "mapping"
    if isinstance(annotation, type) and issubclass(annotation, BaseModel | dict):
        return "mapping"
    if annotation in _WORDS:
        return _WORDS[annotation]
    return f"`{getattr(annotation, '__name__', annotation)}`"


def _constraint_text(item: Any) -> str:
    """``>= 1`` for ``Ge(1)``; nothing for a validator function (its rule is in the docstring)."""
    if isinstance(item, _VALIDATORS):
        return ""
    for kind, attribute, word in (
        (annotated_types.Ge, "ge", ">="),
        (annotated_types.Gt, "gt", ">"),
        (annotated_types.Le, "le", "<="),
        (annotated_types.Lt, "lt", "<"),
        (annotated_types.MinLen, "min_length", "length >="),
        (annotated_types.MaxLen, "max_length", "length <="),
        (annotated_types.MultipleOf, "multiple_of", "multiple of"),
    ):
        if isinstance(item, kind):
            return f"{word} {getattr(item, attribute)}"
    return repr(item)


def _default_text(field: FieldInfo) -> str:
    """``required``, or the default as it would be written in YAML."""
    if field.is_required():
        return "required"
    default = field.get_default(call_default_factory=True, validated_data={})
    if isinstance(default, BaseModel):
        default = default.model_dump(exclude_defaults=True)
    return f"`{_value_text(default)}`"


def _value_text(value: Any) -> str:
    """A value in YAML flow style: ``null``, ``true``, ``[1, 5, 10]``, ``""``, ``query-id``."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value if re.fullmatch(r"[A-Za-z0-9_./@-]+", value) else '"' + value.replace('"', '\\"') + '"'
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{_value_text(k)}: {_value_text(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list | tuple | set | frozenset):
        return "[" + ", ".join(_value_text(item) for item in value) + "]"
    return str(value)


def _markdown_literals(docstring: str) -> str:
    """reST literals and roles (````x````, ``:mod:`x```) as markdown code spans."""
    text = inspect.cleandoc(docstring)
    text = re.sub(r":[a-z]+:`~?([^`]+)`", r"``\1``", text)
    return re.sub(r"``(.+?)``", r"`\1`", text, flags=re.DOTALL)


def _table_text(docstring: str) -> str:
    """A docstring as one table cell: one line, pipes escaped."""
    return " ".join(_markdown_literals(docstring).split()).replace("|", "\\|")


def _prose_text(docstring: str) -> str:
    """A docstring as markdown paragraphs: the lines of each paragraph joined."""
    paragraphs = re.split(r"\n\s*\n", _markdown_literals(docstring))
    return "\n\n".join(" ".join(paragraph.split()) for paragraph in paragraphs)


def main(argv: Sequence[str] | None = None) -> int:
    """Rewrite the generated part of the task-format document; status 1 if the schema is not documented."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--docs", type=Path, default=DOCS_PATH, help="the document to update")
    args = parser.parse_args(argv)
    try:
        document = args.docs.read_text(encoding="utf-8")
        updated = splice(document, render_field_reference())
    except (OSError, SchemaDocsError) as error:
        print(f"error: {args.docs}: {error}", file=sys.stderr)
        return 1
    if updated == document:
        print(f"{args.docs} is up to date")
        return 0
    args.docs.write_text(updated, encoding="utf-8")
    print(f"updated {args.docs}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
