"""The Jinja2 sandbox operators' templates run in, and its limits.

Layers, each enough to stop what it is there for:

1. ``policy.check_template`` on the syntax tree (refuses internals, ``**``, huge literals,
   macros/includes, ``safe``; see there), at save time and again before any compile;
2. ``ImmutableSandboxedEnvironment``: unsafe attributes raise ``SecurityError``; lists and
   dicts cannot be changed;
3. only an allow-list of filters, functions and methods can be called, and every integer
   passed to them is bounded (no ``"x"|indent(10**9)``); ``range`` is capped; ``**`` and
   %-formatting of text are refused; ``*`` and ``+`` on text or lists, ``~`` joins, filter
   and call results are size-checked;
4. every loop draws from one iteration budget per render, and output is streamed and cut
   off at a maximum length.

So a template can use a loop, an ``if``, a ``set`` and the formatting helpers, and whatever it
tries, a render allocates and runs a bounded amount. Text parts render with autoescape off;
HTML parts with autoescape on (a second environment), so context values are escaped there.
"""

from __future__ import annotations

import functools
import types
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, ParamSpec, TypeVar

from jinja2 import StrictUndefined, TemplateError, TemplateRuntimeError, TemplateSyntaxError, nodes
from jinja2.environment import Template
from jinja2.exceptions import SecurityError
from jinja2.runtime import Context, LoopContext, Undefined
from jinja2.sandbox import ImmutableSandboxedEnvironment
from jinja2.utils import pass_context

from services.notifier.templating import formatting
from services.notifier.templating.policy import PolicyViolation, check_template
from services.notifier.templating.problems import TemplateProblem
from services.notifier.templating.sms import fold_to_gsm

P = ParamSpec("P")
R = TypeVar("R")


@dataclass(frozen=True)
class SandboxLimits:
    max_source_chars: int = 20_000
    """Per template part, checked before parsing."""
    max_output_chars: int = 50_000
    """Per rendered part."""
    max_value_chars: int = 10_000
    """Length of any text or list a template builds (joins, filters, calls, operators)."""
    max_iterations: int = 2_000
    """Loop iterations per render, all loops together."""
    max_range: int = 100
    max_int_argument: int = 1_000
    """Largest integer a filter or function may be given (widths, counts)."""
    max_int_literal: int = 10_000
    max_concat_parts: int = 50


# Built-in filters whose output is at most a small multiple of their input. Left out: safe
# (unescaped HTML), format (%-formatting with widths), center (padding), replace (chains of it
# grow geometrically), pprint, random (not reproducible).
BUILTIN_FILTERS = frozenset(
    {
        "abs", "attr", "batch", "capitalize", "count", "d", "default", "dictsort", "e",
        "escape", "first", "float", "forceescape", "groupby", "indent", "int", "items", "join",
        "last", "length", "list", "lower", "map", "max", "min", "reject", "rejectattr",
        "reverse", "round", "select", "selectattr", "slice", "sort", "string", "striptags",
        "sum", "title", "tojson", "trim", "truncate", "unique", "upper", "urlencode",
        "wordcount", "wordwrap",
    }
)  # fmt: skip
HELPERS = ("format_datetime", "format_date", "format_time", "format_number", "plural", "ngettext")
ALLOWED_FILTERS = BUILTIN_FILTERS | frozenset(HELPERS) | {"gsm"}

# Methods a template may call on text, lists, dicts and the loop object.
ALLOWED_METHODS = frozenset(
    {
        "upper", "lower", "strip", "lstrip", "rstrip", "title", "capitalize", "startswith",
        "endswith", "split", "rsplit", "splitlines", "count", "find", "isdigit", "isalpha",
        "get", "keys", "values", "items", "index", "cycle", "changed",
    }
)  # fmt: skip
_METHOD_OWNERS = (str, list, tuple, dict, LoopContext)

BUDGET_VARIABLE = "_render_budget"  # templates cannot name it: names starting with _ are refused
_ITERATION_GUARD = "_iteration_guard"
_SIZE_GUARD = "_size_guard"


class RenderBudget:
    """Loop iterations left for one render."""

    def __init__(self, iterations: int) -> None:
        self.iterations_left = iterations

    def guard(self, iterable: Iterable[Any]) -> Iterator[Any]:
        for item in iterable:
            if self.iterations_left <= 0:
                raise SecurityError("the template loops too often")
            self.iterations_left -= 1
            yield item


# -- helpers templates call; zone and locale default to the member's ----------------------


def _member(context: Context, name: str, given: str | None) -> str:
    value = given if given is not None else context.get(name)
    if not isinstance(value, str):
        raise TemplateRuntimeError(f"{name} must be text")
    return value


def _helper_errors(function: Callable[P, R]) -> Callable[P, R]:
    """Report a helper's failure as a template error with the helper's reason."""

    @functools.wraps(function)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return function(*args, **kwargs)
        except TemplateError:
            raise
        except (ValueError, TypeError, LookupError) as error:
            raise TemplateRuntimeError(f"{function.__name__}: {error}") from None

    return wrapper


@pass_context
@_helper_errors
def format_datetime_helper(
    context: Context,
    value: datetime,
    format: str = "medium",  # the name Babel and Jinja users know
    zone: str | None = None,
    locale: str | None = None,
) -> str:
    return formatting.format_datetime(
        value, format, _member(context, "timezone", zone), _member(context, "locale", locale)
    )


@pass_context
@_helper_errors
def format_date_helper(
    context: Context,
    value: date,
    format: str = "long",
    zone: str | None = None,
    locale: str | None = None,
) -> str:
    return formatting.format_date(
        value, format, _member(context, "timezone", zone), _member(context, "locale", locale)
    )


@pass_context
@_helper_errors
def format_time_helper(
    context: Context,
    value: datetime,
    format: str = "short",
    zone: str | None = None,
    locale: str | None = None,
) -> str:
    return formatting.format_time(
        value, format, _member(context, "timezone", zone), _member(context, "locale", locale)
    )


@pass_context
@_helper_errors
def format_number_helper(context: Context, value: float, locale: str | None = None) -> str:
    return formatting.format_number(value, _member(context, "locale", locale))


@pass_context
@_helper_errors
def plural_helper(context: Context, count: float, **forms: str) -> str:
    """``plural(n, one="question", other="questions")``: CLDR categories of the locale."""
    unknown = set(forms) - set(formatting.PLURAL_CATEGORIES)
    if unknown:
        raise ValueError(f"unknown plural categories {sorted(unknown)}")
    return formatting.plural(count, _member(context, "locale", None), forms)


@pass_context
@_helper_errors
def ngettext_helper(context: Context, singular: str, plural: str, count: float) -> str:
    return formatting.ngettext(singular, plural, count, _member(context, "locale", None))


_HELPER_FUNCTIONS: dict[str, Callable[..., str]] = {
    "format_datetime": format_datetime_helper,
    "format_date": format_date_helper,
    "format_time": format_time_helper,
    "format_number": format_number_helper,
    "plural": plural_helper,
    "ngettext": ngettext_helper,
}


class PromptSandbox(ImmutableSandboxedEnvironment):
    """One of the two environments (text or HTML) with the limits above."""

    intercepted_binops = frozenset({"+", "*", "%", "**"})

    def __init__(self, limits: SandboxLimits, *, html: bool) -> None:
        super().__init__(
            undefined=StrictUndefined,
            autoescape=html,
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=False,
            auto_reload=False,
        )
        self.limits = limits
        self.globals.clear()
        self.globals["range"] = self._bounded(self._range)
        for name, helper in _HELPER_FUNCTIONS.items():
            self.globals[name] = self._bounded(helper)
        builtin_filters = self.filters
        self.filters = {name: self._bounded(builtin_filters[name]) for name in BUILTIN_FILTERS}
        self.filters.update({name: self.globals[name] for name in HELPERS})
        self.filters["gsm"] = self._bounded(fold_to_gsm)
        self.filters[_ITERATION_GUARD] = _iteration_guard
        self.filters[_SIZE_GUARD] = self._size_guard
        self._callables = frozenset(self.globals.values())
        self._compiled: OrderedDict[str, Template] = OrderedDict()

    # -- checks ---------------------------------------------------------------------------

    def _check_size(self, value: object) -> None:
        if isinstance(value, str | list | tuple | dict | set) and (
            len(value) > self.limits.max_value_chars
        ):
            raise SecurityError(
                f"the template builds a value longer than {self.limits.max_value_chars}"
            )

    def _check_arguments(self, args: Iterable[object], kwargs: Mapping[str, object]) -> None:
        for value in (*args, *kwargs.values()):
            if (
                isinstance(value, int)
                and not isinstance(value, bool)
                and abs(value) > self.limits.max_int_argument
            ):
                raise SecurityError(
                    f"numbers above {self.limits.max_int_argument} cannot be passed to filters "
                    "or functions"
                )

    def _bounded(self, function: Callable[P, R]) -> Callable[P, R]:
        """``function`` with bounded integer arguments and a size-checked result. The
        wrapper keeps Jinja's pass_context marker (``functools.wraps`` copies it)."""

        @functools.wraps(function)
        def bounded(*args: P.args, **kwargs: P.kwargs) -> R:
            self._check_arguments(args, kwargs)
            result = function(*args, **kwargs)
            self._check_size(result)
            return result

        return bounded

    def _range(self, *args: int) -> range:
        numbers = range(*args)
        if len(numbers) > self.limits.max_range:
            raise SecurityError(f"range() is limited to {self.limits.max_range} items")
        return numbers

    def _size_guard(self, value: object) -> object:
        self._check_size(value)
        return value

    # -- sandbox hooks ----------------------------------------------------------------------

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        if operator == "**":
            raise SecurityError("the ** operator is not allowed")
        if operator == "%" and isinstance(left, str):
            raise SecurityError("%-formatting is not allowed; join text with ~")
        limit = self.limits.max_value_chars
        sized = (str, list, tuple)
        if operator == "*":
            for sequence, times in ((left, right), (right, left)):
                if (
                    isinstance(sequence, sized)
                    and isinstance(times, int)
                    and len(sequence) * max(times, 0) > limit
                ):
                    raise SecurityError(f"the template builds a value longer than {limit}")
        if (
            operator == "+"
            and isinstance(left, sized)
            and isinstance(right, sized)
            and len(left) + len(right) > limit
        ):
            raise SecurityError(f"the template builds a value longer than {limit}")
        return super().call_binop(context, operator, left, right)

    def call(
        __self,  # Jinja's signature: the dunders keep template keywords from clashing
        __context: Context,
        __obj: Any,
        *args: Any,
        **kwargs: Any,
    ) -> Any:
        if isinstance(__obj, Undefined):
            __obj._fail_with_undefined_error()  # "'x' is undefined", not a refusal
        if not __self._may_call(__obj):
            raise SecurityError(
                f"calling {getattr(__obj, '__name__', type(__obj).__name__)!r} is not allowed"
            )
        __self._check_arguments(args, kwargs)
        result = super().call(__context, __obj, *args, **kwargs)
        __self._check_size(result)
        return result

    def _may_call(self, obj: Any) -> bool:
        if any(obj is allowed for allowed in self._callables):
            return True
        if isinstance(obj, types.BuiltinMethodType | types.MethodType):
            return isinstance(obj.__self__, _METHOD_OWNERS) and obj.__name__ in ALLOWED_METHODS
        return False

    # -- compiling and rendering ----------------------------------------------------------

    def compile_template(self, source: str, name: str) -> Template:
        """Check and compile ``source``; raises ``TemplateProblem`` naming ``name``."""
        cached = self._compiled.get(source)
        if cached is not None:
            self._compiled.move_to_end(source)
            return cached
        if len(source) > self.limits.max_source_chars:
            raise TemplateProblem(f"{name}: longer than {self.limits.max_source_chars} characters")
        try:
            tree = self.parse(source)
            check_template(
                tree,
                allowed_filters=ALLOWED_FILTERS,
                max_int_literal=self.limits.max_int_literal,
                max_concat_parts=self.limits.max_concat_parts,
            )
            _add_guards(tree)
            tree.set_environment(self)
            template = self.template_class.from_code(
                self, self.compile(tree), self.make_globals(None), None
            )
        except TemplateSyntaxError as error:
            raise TemplateProblem(f"{name}: line {error.lineno}: {error.message}") from None
        except (PolicyViolation, TemplateError) as error:
            raise TemplateProblem(f"{name}: {error}") from None
        self._compiled[source] = template
        if len(self._compiled) > 512:
            self._compiled.popitem(last=False)
        return template

    def render_bounded(self, template: Template, variables: Mapping[str, Any], name: str) -> str:
        """Render with a fresh iteration budget, stopping at the output limit.

        Whatever a template provokes is reported as ``TemplateProblem``: Jinja's own errors
        (undefined names, sandbox refusals) with their message, anything else by type only,
        since its message might quote a value.
        """
        context = {**variables, BUDGET_VARIABLE: RenderBudget(self.limits.max_iterations)}
        chunks: list[str] = []
        length = 0
        try:
            for chunk in template.generate(context):
                length += len(chunk)
                if length > self.limits.max_output_chars:
                    raise TemplateProblem(
                        f"{name}: output longer than {self.limits.max_output_chars} characters"
                    )
                chunks.append(chunk)
        except TemplateProblem:
            raise
        except TemplateError as error:
            raise TemplateProblem(f"{name}: {error.message or type(error).__name__}") from None
        except (OverflowError, MemoryError, RecursionError, ZeroDivisionError) as error:
            raise TemplateProblem(f"{name}: {type(error).__name__} while rendering") from None
        except Exception as error:  # the sandbox may raise anything a template provokes
            raise TemplateProblem(f"{name}: {type(error).__name__} while rendering") from None
        return "".join(chunks)


@pass_context
def _iteration_guard(context: Context, iterable: Iterable[Any]) -> Iterator[Any]:
    budget = context.get(BUDGET_VARIABLE)
    if not isinstance(budget, RenderBudget):
        raise SecurityError("loops need a render budget")
    return budget.guard(iterable)


def _guard(node: nodes.Node, name: str) -> nodes.Filter:
    return nodes.Filter(node, name, [], [], None, None, lineno=node.lineno)


def _add_guards(tree: nodes.Template) -> None:
    """Every loop draws from the render's budget; every ``~`` join and ``{% set %}`` block is
    size-checked. Runs after the policy check, so the guards' own names are never refused."""
    for loop in tree.find_all(nodes.For):
        loop.iter = _guard(loop.iter, _ITERATION_GUARD)
    for block in tree.find_all(nodes.AssignBlock):
        if block.filter is None:
            block.filter = nodes.Filter(None, _SIZE_GUARD, [], [], None, None, lineno=block.lineno)
    for parent in list(tree.find_all(nodes.Node)):
        for field in parent.fields:
            child = getattr(parent, field, None)
            if isinstance(child, nodes.Concat):
                setattr(parent, field, _guard(child, _SIZE_GUARD))
            elif isinstance(child, list):
                setattr(
                    parent,
                    field,
                    [_guard(c, _SIZE_GUARD) if isinstance(c, nodes.Concat) else c for c in child],
                )


def text_and_html_sandboxes(limits: SandboxLimits) -> tuple[PromptSandbox, PromptSandbox]:
    """(text, html): autoescape off and on."""
    return PromptSandbox(limits, html=False), PromptSandbox(limits, html=True)
