"""What an operator's template may contain, checked on its syntax tree before it is compiled.

The sandbox (``sandbox.py``) already refuses unsafe attributes at run time; this check refuses
them *when a template is saved*, with a reason the operator can act on, and refuses the
constructs a prompt never needs but an attack does: reaching for internals (``__class__``,
``__globals__``, ``__mro__``, ``__subclasses__``, anything starting with ``_``), the ``**``
operator and huge literals (``range(10**9)``), macros, includes and imports, autoescape
switches and the ``safe`` filter (which would let text through unescaped into HTML), recursive
loops, and namespaces (mutable state that outlives a loop iteration). A ``{% filter %}`` block
may use the allowed filters only (``{% filter gsm %}`` is how an SMS template opts into GSM-7).
"""

from __future__ import annotations

from jinja2 import nodes

REFUSED_STATEMENTS: dict[type[nodes.Node], str] = {
    nodes.Macro: "{% macro %}",
    nodes.CallBlock: "{% call %}",
    nodes.Import: "{% import %}",
    nodes.FromImport: "{% from ... import %}",
    nodes.Include: "{% include %}",
    nodes.Extends: "{% extends %}",
    nodes.Block: "{% block %}",
    nodes.EvalContextModifier: "{% autoescape %}",
    nodes.NSRef: "assigning to a namespace",
}


class PolicyViolation(ValueError):
    """Why a template is refused; the message quotes template syntax, never data."""


def _internal(name: str) -> bool:
    return name.startswith("_")


def check_template(
    tree: nodes.Template,
    *,
    allowed_filters: frozenset[str],
    max_int_literal: int,
    max_concat_parts: int,
) -> None:
    """Raise ``PolicyViolation`` for the first construct a prompt template may not use."""
    for node in tree.find_all(nodes.Node):
        for refused, what in REFUSED_STATEMENTS.items():
            if isinstance(node, refused):
                raise PolicyViolation(f"{what} is not allowed in prompt templates")
        if isinstance(node, nodes.Name) and _internal(node.name):
            raise PolicyViolation(f"the name {node.name!r} is not allowed (internals)")
        elif isinstance(node, nodes.Getattr) and _internal(node.attr):
            raise PolicyViolation(f"the attribute {node.attr!r} is not allowed (internals)")
        elif (
            isinstance(node, nodes.Getitem)
            and isinstance(node.arg, nodes.Const)
            and isinstance(node.arg.value, str)
            and _internal(node.arg.value)
        ):
            raise PolicyViolation(f"the item {node.arg.value!r} is not allowed (internals)")
        elif isinstance(node, nodes.Const):
            _check_constant(node.value, max_int_literal)
        elif isinstance(node, nodes.Pow):
            raise PolicyViolation("the ** operator is not allowed")
        elif isinstance(node, nodes.For) and node.recursive:
            raise PolicyViolation("recursive loops are not allowed")
        elif isinstance(node, nodes.Filter) and node.name not in allowed_filters:
            if node.name == "safe":
                raise PolicyViolation(
                    "the 'safe' filter is not allowed: it would turn off escaping"
                )
            raise PolicyViolation(f"the filter {node.name!r} is not available in prompt templates")
        elif isinstance(node, nodes.Concat) and len(node.nodes) > max_concat_parts:
            raise PolicyViolation(f"an expression may join at most {max_concat_parts} parts with ~")


def _check_constant(value: object, max_int_literal: int) -> None:
    if isinstance(value, str) and "__" in value:
        raise PolicyViolation("text containing '__' is not allowed in expressions (internals)")
    if (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and abs(value) > max_int_literal
    ):
        raise PolicyViolation(f"numbers above {max_int_literal} are not allowed")
