"""Operators' templates cannot reach outside the sandbox or make the renderer do unbounded
work: refused when saved (validate), and refused again if one ever reaches rendering."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from services.notifier.templating import (
    InMemoryStoredTemplates,
    PromptRenderer,
    RenderLimits,
    RenderPool,
    TemplateProblem,
)
from services.notifier.templating.policy import PolicyViolation, check_template
from services.notifier.templating.samples import sample_context
from services.notifier.templating.sandbox import ALLOWED_FILTERS, PromptSandbox, SandboxLimits
from tests.unit.notifier.templating.conftest import NOW

ATTACKS = [
    pytest.param("{{ ''.__class__ }}", "'__class__'", id="class"),
    pytest.param("{{ questions.__class__.__mro__ }}", "'__mro__'", id="mro-via-class"),
    pytest.param("{{ questions.__mro__ }}", "'__mro__'", id="mro"),
    pytest.param("{{ ''.__class__.__mro__[1].__subclasses__() }}", "internals", id="subclasses"),
    pytest.param("{{ format_datetime.__globals__ }}", "'__globals__'", id="globals"),
    pytest.param("{{ questions['__class__'] }}", "'__class__'", id="item-access"),
    pytest.param("{{ questions|map(attribute='__class__')|list }}", "'__'", id="map-attribute"),
    pytest.param("{{ _render_budget }}", "'_render_budget'", id="private-name"),
    pytest.param("{{ range(10**9)|list }}", "\\*\\* operator", id="range-pow"),
    pytest.param("{% for i in range(1000000000) %}x{% endfor %}", "numbers above", id="range-big"),
    pytest.param("{{ range(500)|list }}", "range\\(\\) is limited", id="range-capped"),
    pytest.param("{{ 'ab' * 9000 }}", "longer than", id="repeat-text"),
    pytest.param("{{ 'a'|indent(5000) }}", "numbers above 1000", id="filter-argument"),
    pytest.param("{{ 'a'.center(900) }}", "calling 'center'", id="method"),
    pytest.param("{{ '{0:>900}'.format(1) }}", "calling 'format'", id="str-format"),
    pytest.param("{{ '%900s' % 'x' }}", "%-formatting", id="percent-format"),
    pytest.param(
        "{% for a in range(100) %}{% for b in range(100) %}{% endfor %}{% endfor %}",
        "loops too often",
        id="nested-loops",
    ),
    pytest.param("{{ [1].append(2) }}", "'append' of 'list' object is unsafe", id="mutation"),
    pytest.param("{{ nothing.attr }}", "'nothing' is undefined", id="undefined-attribute"),
    pytest.param("{{ questions[0].no_such_field }}", "no_such_field", id="undefined-field"),
    pytest.param("{{ lipsum(10, True, 1000, 1000) }}", "'lipsum' is undefined", id="lipsum"),
    pytest.param("{% macro m() %}{% endmacro %}", "macro", id="macro"),
    pytest.param("{% include 'x' %}", "include", id="include"),
    pytest.param("{% set ns = namespace(a=1) %}", "'namespace' is undefined", id="namespace"),
    pytest.param("{% for x in questions recursive %}{% endfor %}", "recursive", id="recursive"),
    pytest.param("{{ unsubscribe_url|safe }}", "'safe' filter", id="safe-filter"),
    pytest.param("{% autoescape false %}{% endautoescape %}", "autoescape", id="autoescape"),
    pytest.param("{{ x", "line 1", id="syntax"),
]


@pytest.mark.parametrize(("body", "reason"), ATTACKS)
async def test_refused_at_save_time_with_the_reason(
    renderer: PromptRenderer, body: str, reason: str
) -> None:
    with pytest.raises(TemplateProblem, match=reason) as caught:
        await renderer.validate("check_in", "en", "sms", None, body, None)
    assert "check_in/en/sms" in str(caught.value)


@pytest.mark.parametrize("part", ["subject", "text", "html"])
async def test_every_email_part_is_checked(renderer: PromptRenderer, part: str) -> None:
    parts = {"subject": "Hi", "text": "Hello", "html": "<p>Hello</p>"}
    parts[part] = "{{ ''.__class__ }}"
    with pytest.raises(TemplateProblem, match=f"check_in/en/email {part}"):
        await renderer.validate(
            "check_in", "en", "email", parts["subject"], parts["text"], parts["html"]
        )


async def test_a_template_that_slipped_past_validation_is_still_refused_when_rendered(
    store: InMemoryStoredTemplates, renderer: PromptRenderer
) -> None:
    # Written straight to the store (a database edit), never validated.
    await store.put(
        "check_in",
        "en",
        "sms",
        subject=None,
        text_body="{{ ''.__class__.__mro__[1].__subclasses__() }}",
        html_body=None,
        now=NOW,
    )
    with pytest.raises(TemplateProblem, match="stored template check_in/en/sms"):
        await renderer.render_sms("check_in", sample_context("check_in", "en"))


async def test_output_is_cut_off_at_the_limit(
    pool_with: Callable[[RenderLimits], RenderPool],
) -> None:
    pool = pool_with(RenderLimits(sandbox=SandboxLimits(max_output_chars=500)))
    renderer = PromptRenderer(InMemoryStoredTemplates(), pool=pool)
    body = "{% for i in range(60) %}0123456789{% endfor %}"
    with pytest.raises(TemplateProblem, match="output longer than 500"):
        await renderer.validate("reach_out", "en", "email", "Hi", body, None)


async def test_doubling_through_set_stops_at_the_value_limit(renderer: PromptRenderer) -> None:
    grow = "{% set s = s ~ s ~ s ~ s ~ s ~ s ~ s ~ s ~ s ~ s %}"
    body = "{% set s = '0123456789' %}" + grow * 4 + "{{ s|length }}"
    with pytest.raises(TemplateProblem, match="longer than 10000"):
        await renderer.validate("reach_out", "en", "email", "Hi", body, None)


def test_the_sandbox_allows_what_prompts_need() -> None:
    sandbox = PromptSandbox(SandboxLimits(), html=False)
    template = sandbox.compile_template(
        "{% set first = items[0] %}{{ first|upper }} "
        "{% for x in items %}{{ loop.index }}/{{ loop.length }}{{ loop.cycle('a', 'b') }} "
        "{% endfor %}{{ items|join(', ') }} {{ 'A b'.split()|length }} {{ 2 * 3 + 1 }}"
        "{% filter upper %} done{% endfilter %}",
        "t",
    )
    text = sandbox.render_bounded(template, {"items": ["x", "y"]}, "t")
    assert text == "X 1/2a 2/2b x, y 2 7 DONE"


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ("{{ 2 ** 3 }}", "\\*\\* operator"),
        ("{{ x.__class__ }}", "'__class__'"),
        ("{{ x['_secret'] }}", "'_secret'"),
        ("{{ 10001 }}", "numbers above 10000"),
        ("{% macro m() %}{% endmacro %}", "macro"),
        ("{{ x|pprint }}", "'pprint' is not available"),
        ("{{ " + " ~ ".join(["x"] * 51) + " }}", "at most 50 parts"),
    ],
)
def test_the_syntax_check_alone_refuses_before_anything_runs(body: str, reason: str) -> None:
    sandbox = PromptSandbox(SandboxLimits(), html=False)
    with pytest.raises(PolicyViolation, match=reason):
        check_template(
            sandbox.parse(body),
            allowed_filters=ALLOWED_FILTERS,
            max_int_literal=10_000,
            max_concat_parts=50,
        )


# What an outside tester found: each was accepted when saved, and each made a render cost far
# more than any prompt needs (a nested list that printing would expand a million-fold, lists
# summed in quadratic time, a loop doing costly work on every turn, a number squared into
# gigabytes). Each is now refused by the sandbox itself, whatever the deadline.
HOLES = [
    pytest.param(
        "{% set a = ['x' * 50] * 100 %}{% set b = [a] * 100 %}{% set c = [b] * 100 %}"
        "{{ c|length }}",
        "longer than 10000 \\(text and list items, nested ones included\\)",
        id="nested-list-bomb",
    ),
    pytest.param(
        "{% set a = 'x' * 5000 %}{% set b = [a, a, a] %}{{ b|length }}",
        "nested ones included",
        id="nested-in-a-literal",
    ),
    pytest.param(
        "{{ ([[1] * 10] * 10)|sum(start=[])|length }}",
        "sum\\(\\) adds numbers only",
        id="sum-start-list",
    ),
    pytest.param(
        "{% set s = 'word ' * 1800 %}{% for i in range(100) %}{% for j in range(5) %}"
        "{{ s|wordcount }}{% endfor %}{% endfor %}",
        "does too much work \\(more than 200000 operations\\)",
        id="long-loop-within-the-iteration-budget",
    ),
    pytest.param(
        "{% set a = 10000 * 10000 %}{% set b = a * a %}{% set c = b * b %}{{ c * c }}",
        "multiplies numbers into a huge one",
        id="squared-number",
    ),
]


@pytest.mark.parametrize(("body", "reason"), HOLES)
async def test_costly_constructs_are_refused_at_save(
    renderer: PromptRenderer, body: str, reason: str
) -> None:
    with pytest.raises(TemplateProblem, match=reason) as caught:
        await renderer.validate("reach_out", "en", "sms", None, body, None)
    assert "draft template reach_out/en/sms" in str(caught.value)


@pytest.mark.parametrize(("body", "reason"), HOLES)
async def test_costly_constructs_fail_the_prompt_when_stored_unchecked(
    store: InMemoryStoredTemplates, renderer: PromptRenderer, body: str, reason: str
) -> None:
    await store.put("reach_out", "en", "sms", subject=None, text_body=body, html_body=None, now=NOW)
    with pytest.raises(TemplateProblem, match=reason):
        await renderer.render_sms("reach_out", sample_context("reach_out", "en"))
    # The renderer still works: the next prompt with a sound template goes out.
    await store.put(
        "reach_out", "en", "sms", subject=None, text_body="Hi STOP", html_body=None, now=NOW
    )
    assert (await renderer.render_sms("reach_out", sample_context("reach_out", "en"))).text == (
        "Hi STOP"
    )


def test_sizes_count_nested_items_and_sum_still_adds_numbers() -> None:
    sandbox = PromptSandbox(SandboxLimits(max_value_chars=100), html=False)
    fits = sandbox.compile_template(
        "{% set a = ['xy'] * 10 %}{% set b = [a, a] %}{{ b|length }} {{ [1, 2.5]|sum }} "
        "{{ questions|map(attribute='n')|sum(start=1) }}",
        "t",
    )
    assert sandbox.render_bounded(fits, {"questions": [{"n": 2}, {"n": 3}]}, "t") == "2 3.5 6"
    # [a, a, a]: 3 + 3 x (10 + 10 x 2) = 93 fits; four of them do not.
    too_big = sandbox.compile_template(
        "{% set a = ['xy'] * 10 %}{% set b = [a, a, a] %}{{ ([b] * 2)|length }}", "t"
    )
    with pytest.raises(TemplateProblem, match="longer than 100"):
        sandbox.render_bounded(too_big, {}, "t")


# Jinja's parser and compiler recurse once per level of nesting: a few thousand levels used
# to end in RecursionError (a 500), 21 nested loops in Python's own "too many statically
# nested blocks" (SyntaxError, a 500 too).
TOO_DEEP = [
    pytest.param("{{ " + "(" * 3000 + "x" + ")" * 3000 + " }}", "brackets more", id="parentheses"),
    pytest.param("{{ " + "[" * 3000 + "1" + "]" * 3000 + " }}", "brackets more", id="lists"),
    pytest.param("{{ " + "(" * 31 + "1" + ")" * 31 + " }}", "brackets more", id="just-too-deep"),
    pytest.param("{{ " + "not " * 3000 + "x }}", "nests too deeply", id="not-not-not"),
    pytest.param("{% if 1 %}" * 300 + "x" + "{% endif %}" * 300, "nests", id="blocks"),
    pytest.param("{% for a in range(1) %}" * 21 + "{% endfor %}" * 21, "nests", id="loops"),
]


@pytest.mark.parametrize(("body", "detail"), TOO_DEEP)
async def test_a_template_nesting_too_deeply_is_refused_at_save(
    renderer: PromptRenderer, body: str, detail: str
) -> None:
    with pytest.raises(TemplateProblem, match="the template nests too deeply") as caught:
        await renderer.validate("reach_out", "en", "sms", None, body, None)
    assert detail in str(caught.value)


@pytest.mark.parametrize(("body", "detail"), TOO_DEEP)
async def test_a_template_nesting_too_deeply_fails_the_prompt_when_stored_unchecked(
    store: InMemoryStoredTemplates, renderer: PromptRenderer, body: str, detail: str
) -> None:
    await store.put("reach_out", "en", "sms", subject=None, text_body=body, html_body=None, now=NOW)
    with pytest.raises(TemplateProblem, match="stored template reach_out/en/sms: the template"):
        await renderer.render_sms("reach_out", sample_context("reach_out", "en"))


def test_nesting_within_the_limit_renders() -> None:
    sandbox = PromptSandbox(SandboxLimits(), html=False)
    template = sandbox.compile_template("{{ " + "(" * 28 + "1" + ")" * 28 + " }}", "t")
    assert sandbox.render_bounded(template, {}, "t") == "1"
