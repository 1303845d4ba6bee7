"""What a template reads: the attributes it takes of a variable, found by parsing (never rendering) it."""

from __future__ import annotations

from functools import lru_cache

from jinja2 import Environment, TemplateSyntaxError, meta, nodes


@lru_cache(maxsize=1024)
def attributes_read(source: str, variable: str) -> frozenset[str]:
    """Names read as ``variable.name`` or ``variable['name']`` anywhere in ``source``.

    Used to tell which candidate columns a candidate template prints, so that a null in one of
    them is an error (it would render as the text ``None``) while a null in a column the template
    never reads is not. Dynamic access (``variable[key]`` with a computed key) is not seen.
    """
    try:
        tree = Environment(autoescape=False).parse(source)  # noqa: S701 - parsed only, never rendered
    except TemplateSyntaxError:
        return frozenset()  # syntax errors are reported where the template is checked
    names: set[str] = set()
    for node in tree.find_all((nodes.Getattr, nodes.Getitem)):
        if not isinstance(node, nodes.Getattr | nodes.Getitem):
            continue
        target = node.node
        if not (isinstance(target, nodes.Name) and target.name == variable):
            continue
        if isinstance(node, nodes.Getattr):
            names.add(node.attr)
        elif isinstance(node.arg, nodes.Const) and isinstance(node.arg.value, str):
            names.add(node.arg.value)
    return frozenset(names)


@lru_cache(maxsize=1024)
def depends_only_on(source: str, variables: frozenset[str]) -> bool:
    """Whether ``source`` renders the same text whenever ``variables`` have the same values: it
    reads no other variable and uses no ``random`` filter (found by parsing, never rendering).

    False for a template that does not parse (reported where the template is checked).
    """
    try:
        tree = Environment(autoescape=False).parse(source)  # noqa: S701 - parsed only, never rendered
    except TemplateSyntaxError:
        return False
    if any(node.name == "random" for node in tree.find_all(nodes.Filter) if isinstance(node, nodes.Filter)):
        return False
    return meta.find_undeclared_variables(tree) <= variables
