"""argv templates: values land inside their own item, whatever they contain."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from patchwire.errors import InvalidRequestError
from patchwire_cli.argv import ArgvTemplate, Field, TemplateError, parse_item

# Text a shell would act on, plus anything else hypothesis finds; NUL is refused earlier
# (by Command.bind), so the template never sees it.
_VALUES = st.text(
    alphabet=st.characters(codec="utf-8", exclude_characters="\x00"),
    max_size=30,
) | st.sampled_from(["a b", "x; rm -rf /", "$(id)", "`id`", "'\"", "*", "\n", "&&", "| cat"])
_NAMES = st.sampled_from(["a", "b", "c", "file_name", "_x"])
_LITERAL = st.text(alphabet="abcxyz=-./:", min_size=1, max_size=6)


@st.composite
def _templates(draw: st.DrawFn) -> tuple[list[str], list[tuple[str, str, str | None]]]:
    """argv strings and, per item after the program, (prefix, suffix, field) it was built from."""
    argv = ["prog"]
    shape: list[tuple[str, str, str | None]] = []
    for _ in range(draw(st.integers(0, 6))):
        prefix = draw(st.sampled_from(["", "--opt=", "x"]))
        suffix = draw(st.sampled_from(["", ".txt"]))
        if draw(st.booleans()):
            name = draw(_NAMES)
            argv.append(f"{prefix}{{{name}}}{suffix}")
            shape.append((prefix, suffix, name))
        else:
            literal = draw(_LITERAL)
            argv.append(literal)
            shape.append((literal, "", None))
    return argv, shape


@settings(max_examples=200, deadline=None)
@given(_templates(), st.dictionaries(_NAMES, _VALUES, min_size=5, max_size=5))
def test_values_never_add_remove_split_or_merge_argv_items(
    template: tuple[list[str], list[tuple[str, str, str | None]]], raw: dict[str, str]
) -> None:
    """Invariant: the rendered argv has exactly the template's items, and each value appears
    verbatim inside the one item its placeholder stood in (no shell, no splitting)."""
    argv, shape = template
    values = {name: raw.get(name, "v") for name in ("a", "b", "c", "file_name", "_x")}
    out = ArgvTemplate.parse(argv).render(values, allow_options=True)
    assert len(out) == len(argv)
    assert out[0] == "prog"
    for item, (prefix, suffix, name) in zip(out[1:], shape, strict=True):
        expected = prefix + suffix if name is None else prefix + values[name] + suffix
        assert item == expected


@settings(max_examples=100, deadline=None)
@given(st.text(max_size=20).map(lambda s: "-" + s))
def test_a_value_that_looks_like_an_option_is_refused_unless_after_double_dash(
    value: str,
) -> None:
    """Invariant: a whole-item value starting with '-' never reaches a program as an option:
    refused before a literal '--', passed verbatim after it."""
    before = ArgvTemplate.parse(["grep", "{pattern}", "--", "{file}"])
    with pytest.raises(
        InvalidRequestError, match="would start with '-' because of argument 'pattern'"
    ):
        before.render({"pattern": value, "file": "f"})
    assert before.render({"pattern": "p", "file": value}) == ["grep", "p", "--", value]


def test_an_embedded_value_starting_with_dash_stays_inside_its_option() -> None:
    template = ArgvTemplate.parse(["tool", "--input={path}"])
    assert template.render({"path": "-weird"}) == ["tool", "--input=-weird"]


def test_allow_options_lets_whole_item_values_start_with_dash() -> None:
    template = ArgvTemplate.parse(["tool", "{flag}"])
    assert template.render({"flag": "-v"}, allow_options=True) == ["tool", "-v"]


def test_doubled_braces_are_literal_braces() -> None:
    assert parse_item("{{x}}") == ("{x}",)
    assert parse_item("a{{{b}}}c") == ("a{", Field("b"), "}c")
    template = ArgvTemplate.parse(["jq", "{{a: .{key}}}"])
    assert template.render({"key": "b"}) == ["jq", "{a: .b}"]


@pytest.mark.parametrize("text", ["{", "}", "{1x}", "{a-b}", "{ a }", "x{y"])
def test_malformed_placeholders_are_reported_with_their_position(text: str) -> None:
    with pytest.raises(TemplateError, match="unmatched"):
        parse_item(text)


@pytest.mark.parametrize("argv", [[], ["{prog}"], ["bin-{x}"], [""]])
def test_the_program_must_be_a_literal(argv: list[str]) -> None:
    with pytest.raises(TemplateError):
        ArgvTemplate.parse(argv)


def test_fields_lists_every_placeholder_once() -> None:
    template = ArgvTemplate.parse(["p", "{a}", "--x={b}", "{a}.{c}"])
    assert template.fields == frozenset({"a", "b", "c"})
