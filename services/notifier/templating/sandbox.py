"""The Jinja2 sandbox operators' templates run in, and its limits.

Layers, each enough to stop what it is there for:

1. before parsing, the source's length and how deeply its brackets nest are checked (Jinja's
   parser recurses once per level); ``policy.check_template`` on the syntax tree (refuses
   internals, ``**``, huge literals, macros/includes, ``safe``; see there), at save time and
   again before any compile. A template that nests too deeply in some other way (``not not
   not …``, blocks in blocks) is refused when the parser or compiler runs out of stack;
2. ``ImmutableSandboxedEnvironment``: unsafe attributes raise ``SecurityError``; lists and
   dicts cannot be changed. Jinja's optimizer is off, so nothing a template says runs while it
   is compiled: everything runs inside a render, under its budget;
3. only an allow-list of filters, functions and methods can be called, and every integer
   passed to them is bounded (no ``"x"|indent(10**9)``); ``range`` is capped; ``**`` and
   %-formatting of text are refused; ``sum`` adds numbers only (``sum(start=[])`` would join
   lists in quadratic time); multiplying numbers cannot make a huge one;
4. every value a template builds is measured *deeply* (characters of text plus items of
   lists, tuples and dicts, through every level of nesting, a list held twice counting twice:
   that is what printing or joining it produces), before ``*`` and ``+`` build it and after
   every filter, call, ``~`` join, ``{% set %}`` block and list/tuple/dict literal;
5. one budget per render: loop iterations, and operations (every filter, call and operator
   costs one plus the size of what it is given and what it returns), and output is streamed
   and cut off at a maximum length.

So a template can use a loop, an ``if``, a ``set`` and the formatting helpers, and whatever it
tries, a render allocates and runs a bounded amount. Text parts render with autoescape off;
HTML parts with autoescape on (a second environment), so context values are escaped there.

Operators' templates are also rendered in worker processes with a memory cap and a deadline
(``pool``): these layers keep an ordinary render small and fast, the worker bounds whatever
they miss.
"""

from __future__ import annotations

import functools
import re
import types
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, ParamSpec, TypeGuard, TypeVar

from jinja2 import StrictUndefined, TemplateError, TemplateRuntimeError, TemplateSyntaxError, nodes
from jinja2.environment import Environment, Template
from jinja2.exceptions import SecurityError
from jinja2.filters import sync_do_sum
from jinja2.runtime import Context, LoopContext, Undefined
from jinja2.sandbox import ImmutableSandboxedEnvironment
from jinja2.utils import pass_context, pass_environment

from services.notifier.templating import formatting
from services.notifier.templating.policy import PolicyViolation, check_template
from services.notifier.templating.problems import TemplateOverrun, TemplateProblem
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
    """Size of any value a template builds (joins, filters, calls, operators, literals):
    characters of text plus items of lists, tuples and dicts, nested ones included."""
    max_iterations: int = 2_000
    """Loop iterations per render, all loops together."""
    max_operations: int = 200_000
    """Work per render: each filter, call and operator costs 1 plus the size of its arguments
    and of its result. The packaged prompts use under 1,500."""
    max_nesting: int = 30
    """How deeply brackets may nest (``{{`` counts as two); checked before parsing."""
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

# The guards' filter names: templates cannot name them (names starting with _ are refused).
_ITERATION_GUARD = "_iteration_guard"
_SIZE_GUARD = "_size_guard"

_BRACKETS = re.compile(r"[][(){}]")
# Products of integers above this many bits are refused: no template needs them, and
# squaring a number again and again makes one of gigabytes in a few dozen characters.
_MAX_PRODUCT_BITS = 64


class RenderBudget:
    """Loop iterations and operations left for one render."""

    def __init__(self, iterations: int, operations: int) -> None:
        self.iterations_left = iterations
        self.operations = operations
        self.operations_left = operations

    def guard(self, iterable: Iterable[Any]) -> Iterator[Any]:
        for item in iterable:
            if self.iterations_left <= 0:
                raise SecurityError("the template loops too often")
            self.iterations_left -= 1
            yield item

    def charge(self, units: int) -> None:
        self.operations_left -= units
        if self.operations_left < 0:
            raise SecurityError(
                f"the template does too much work (more than {self.operations} operations)"
            )


# The budget of the render running in this thread (set by ``render_bounded``). Filters are
# called without the template's context, so it cannot travel as a template variable.
_CURRENT_BUDGET: ContextVar[RenderBudget | None] = ContextVar("render_budget", default=None)


def _budget() -> RenderBudget:
    budget = _CURRENT_BUDGET.get()
    if budget is None:
        raise SecurityError("template code runs only inside a render")
    return budget


def deep_size(value: object, limit: int) -> int:
    """Characters of text plus items of lists, tuples, sets and dicts, counted through every
    level of nesting; a value held twice counts twice (printing or joining writes it twice).
    Stops counting once past ``limit``, so measuring costs at most about ``limit`` steps."""
    total = 0
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, str):
            total += len(item)
        elif isinstance(item, list | tuple | set | frozenset):
            total += len(item)
            if total <= limit:
                pending.extend(item)
        elif isinstance(item, dict):
            total += len(item)
            if total <= limit:
                pending.extend(item.keys())
                pending.extend(item.values())
        if total > limit:
            break
    return total


def bracket_depth(source: str, limit: int) -> int:
    """How deeply brackets nest in ``source`` (all of it: tags and text), stopping once past
    ``limit``. A closing bracket without an opening one is ignored."""
    depth = deepest = 0
    for match in _BRACKETS.finditer(source):
        if match.group() in "([{":
            depth += 1
            if depth > deepest:
                deepest = depth
                if deepest > limit:
                    break
        elif depth:
            depth -= 1
    return deepest


@pass_environment
def _sum_numbers(
    environment: Environment,
    iterable: Iterable[Any],
    attribute: str | int | None = None,
    start: Any = 0,
) -> Any:
    """Jinja's ``sum``, with a number to start from: ``start=[]`` would make it join lists,
    copying the total again for every item (quadratic), before any size check could run."""
    if isinstance(start, bool) or not isinstance(start, int | float):
        raise SecurityError("sum() adds numbers only: start must be a number")
    return sync_do_sum(environment, iterable, attribute, start)


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
            # The optimizer would call filters with constant arguments while compiling,
            # outside any render and its budget.
            optimized=False,
        )
        self.limits = limits
        self.globals.clear()
        self.globals["range"] = self._bounded(self._range)
        for name, helper in _HELPER_FUNCTIONS.items():
            self.globals[name] = self._bounded(helper)
        builtin_filters = {**self.filters, "sum": _sum_numbers}
        self.filters = {name: self._bounded(builtin_filters[name]) for name in BUILTIN_FILTERS}
        self.filters.update({name: self.globals[name] for name in HELPERS})
        self.filters["gsm"] = self._bounded(fold_to_gsm)
        self.filters[_ITERATION_GUARD] = _iteration_guard
        self.filters[_SIZE_GUARD] = self._size_guard
        self._callables = frozenset(self.globals.values())
        self._compiled: OrderedDict[str, Template] = OrderedDict()

    # -- checks ---------------------------------------------------------------------------

    def _too_large(self) -> SecurityError:
        return SecurityError(
            f"the template builds a value longer than {self.limits.max_value_chars} "
            "(text and list items, nested ones included)"
        )

    def _check_size(self, value: object) -> int:
        """The value's deep size; refused above the limit."""
        size = deep_size(value, self.limits.max_value_chars)
        if size > self.limits.max_value_chars:
            raise self._too_large()
        return size

    def _check_arguments(self, args: Iterable[object], kwargs: Mapping[str, object]) -> int:
        """Refuses large integers; returns the arguments' total deep size (what the call is
        charged for reading)."""
        size = 0
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
            size += deep_size(value, self.limits.max_value_chars)
        return size

    def _checked_call(
        self, function: Callable[..., R], args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> R:
        """Call with bounded integer arguments and a size-checked result, charged to the
        render's budget for what it reads and what it returns."""
        budget = _budget()
        budget.charge(1 + self._check_arguments(args, kwargs))
        result = function(*args, **kwargs)
        budget.charge(self._check_size(result))
        return result

    def _bounded(self, function: Callable[P, R]) -> Callable[P, R]:
        """``function`` called through ``_checked_call``. The wrapper keeps Jinja's
        pass_context/pass_environment marker (``functools.wraps`` copies it)."""

        @functools.wraps(function)
        def bounded(*args: P.args, **kwargs: P.kwargs) -> R:
            return self._checked_call(function, args, kwargs)

        return bounded

    def _range(self, *args: int) -> range:
        numbers = range(*args)
        if len(numbers) > self.limits.max_range:
            raise SecurityError(f"range() is limited to {self.limits.max_range} items")
        return numbers

    def _size_guard(self, value: object) -> object:
        _budget().charge(1 + self._check_size(value))
        return value

    # -- sandbox hooks ----------------------------------------------------------------------

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        if operator == "**":
            raise SecurityError("the ** operator is not allowed")
        if operator == "%" and isinstance(left, str):
            raise SecurityError("%-formatting is not allowed; join text with ~")
        # Sizes are checked before the operator runs: ``[nested] * 100`` is cheap to build
        # but not to print, and ``text * n`` costs its full length at once.
        limit = self.limits.max_value_chars
        sized = (str, list, tuple)
        size = 0
        if operator == "*":
            for sequence, times in ((left, right), (right, left)):
                if isinstance(sequence, sized) and isinstance(times, int):
                    size = deep_size(sequence, limit) * max(times, 0)
                    if size > limit:
                        raise self._too_large()
            if (
                _is_integer(left)
                and _is_integer(right)
                and left.bit_length() + right.bit_length() > _MAX_PRODUCT_BITS
            ):
                raise SecurityError("the template multiplies numbers into a huge one")
        if operator == "+" and isinstance(left, sized) and isinstance(right, sized):
            size = deep_size(left, limit) + deep_size(right, limit)
            if size > limit:
                raise self._too_large()
        _budget().charge(1 + size)
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
        if any(__obj is allowed for allowed in __self._callables):
            # range and the helpers: already wrapped by _bounded.
            return super().call(__context, __obj, *args, **kwargs)
        if not __self._may_call(__obj):
            raise SecurityError(
                f"calling {getattr(__obj, '__name__', type(__obj).__name__)!r} is not allowed"
            )

        def method(*method_args: Any, **method_kwargs: Any) -> Any:
            return ImmutableSandboxedEnvironment.call(
                __self, __context, __obj, *method_args, **method_kwargs
            )

        return __self._checked_call(method, args, kwargs)

    def _may_call(self, obj: Any) -> bool:
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
        if bracket_depth(source, self.limits.max_nesting) > self.limits.max_nesting:
            raise TemplateProblem(
                f"{name}: the template nests too deeply (brackets more than "
                f"{self.limits.max_nesting} levels deep)"
            )
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
        except (RecursionError, SyntaxError):
            # Jinja's parser and code generator recurse per level of nesting (``not not …``,
            # blocks within blocks); Python refuses more than 20 nested loops or blocks.
            raise TemplateProblem(f"{name}: the template nests too deeply") from None
        except MemoryError:
            raise TemplateOverrun(f"{name}: used too much memory") from None
        self._compiled[source] = template
        if len(self._compiled) > 512:
            self._compiled.popitem(last=False)
        return template

    def render_bounded(self, template: Template, variables: Mapping[str, Any], name: str) -> str:
        """Render with a fresh budget, stopping at the output limit.

        Whatever a template provokes is reported as ``TemplateProblem``: Jinja's own errors
        (undefined names, sandbox refusals) with their message, running out of memory as
        ``TemplateOverrun``, anything else by type only, since its message might quote a value.
        """
        budget = RenderBudget(self.limits.max_iterations, self.limits.max_operations)
        token = _CURRENT_BUDGET.set(budget)
        chunks: list[str] = []
        length = 0
        try:
            for chunk in template.generate(variables):
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
        except MemoryError:
            chunks.clear()
            raise TemplateOverrun(f"{name}: used too much memory") from None
        except Exception as error:  # the sandbox may raise anything a template provokes
            raise TemplateProblem(f"{name}: {type(error).__name__} while rendering") from None
        finally:
            _CURRENT_BUDGET.reset(token)
        return "".join(chunks)


def _is_integer(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _iteration_guard(iterable: Iterable[Any]) -> Iterator[Any]:
    return _budget().guard(iterable)


def _guard(node: nodes.Node, name: str) -> nodes.Filter:
    return nodes.Filter(node, name, [], [], None, None, lineno=node.lineno)


def _needs_size_guard(node: object) -> TypeGuard[nodes.Expr]:
    """``~`` joins and list, tuple and dict literals (``[a, a, a]`` nests ``a`` three times);
    not tuples being assigned to (``{% for a, b in … %}``)."""
    if isinstance(node, nodes.Concat | nodes.List | nodes.Dict):
        return True
    return isinstance(node, nodes.Tuple) and node.ctx == "load"


def _add_guards(tree: nodes.Template) -> None:
    """Every loop draws from the render's budget; every ``~`` join, literal and ``{% set %}``
    block is size-checked. Runs after the policy check, so the guards' own names are never
    refused."""
    for loop in tree.find_all(nodes.For):
        loop.iter = _guard(loop.iter, _ITERATION_GUARD)
    for block in tree.find_all(nodes.AssignBlock):
        if block.filter is None:
            block.filter = nodes.Filter(None, _SIZE_GUARD, [], [], None, None, lineno=block.lineno)
    for parent in list(tree.find_all(nodes.Node)):
        for field in parent.fields:
            child = getattr(parent, field, None)
            if _needs_size_guard(child):
                setattr(parent, field, _guard(child, _SIZE_GUARD))
            elif isinstance(child, list):
                setattr(
                    parent,
                    field,
                    [_guard(c, _SIZE_GUARD) if _needs_size_guard(c) else c for c in child],
                )
