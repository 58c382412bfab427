"""Tool specs from Python: signatures, docstrings, record types, and the simulator's arguments."""

from __future__ import annotations

import dataclasses
import enum
import inspect
import random
from typing import Any, Literal, TypedDict

import attrs
import hypothesis.strategies as st
import jsonschema
import pytest
from hypothesis import given, settings
from patchwire import ToolSpec
from patchwire.schema import build, schema_for, validate
from patchwire.testing.sim_schema import instance_for
from patchwire.tools import as_tool_specs, check_tool_choice


class Unit(enum.Enum):
    C = "celsius"
    F = "fahrenheit"


def get_weather(city: str, days: int = 1, unit: Unit = Unit.C, hourly: bool = False) -> str:
    """Weather forecast for a city.

    Args:
        city: the city's name, e.g. "Paris"
        days (int): how many days ahead
    """
    return city


@attrs.frozen
class Place:
    """A place on the map."""

    name: str
    lat: float
    tags: tuple[str, ...] = ()


@dataclasses.dataclass
class Route:
    start: Place
    stops: list[Place]
    mode: Literal["car", "foot"] = "car"


class Query(TypedDict):
    text: str
    limit: int | None


def test_a_function_gives_name_description_required_and_argument_docs() -> None:
    spec = ToolSpec.from_function(get_weather)
    assert spec.name == "get_weather"
    assert spec.description == "Weather forecast for a city."
    params = spec.parameters
    assert params["required"] == ["city"]
    assert params["additionalProperties"] is False
    assert params["properties"]["city"] == {
        "type": "string",
        "description": 'the city\'s name, e.g. "Paris"',
    }
    assert params["properties"]["days"]["description"] == "how many days ahead"
    assert params["properties"]["unit"] == {"enum": ["celsius", "fahrenheit"]}
    jsonschema.Draft202012Validator.check_schema(params)


def test_sphinx_style_parameters_are_read() -> None:
    def search(query: str, limit: int = 5) -> None:
        """Search the index.

        :param query: what to look for
        :param limit: most results
        """

    spec = ToolSpec.from_function(search)
    assert spec.parameters["properties"]["query"]["description"] == "what to look for"
    assert spec.description == "Search the index."


def test_record_types_become_tools_with_nested_objects() -> None:
    spec = ToolSpec.from_type(Route)
    props = spec.parameters["properties"]
    assert props["start"]["required"] == ["name", "lat"]
    assert props["stops"]["items"]["properties"]["tags"]["items"] == {"type": "string"}
    assert props["mode"] == {"enum": ["car", "foot"]}
    assert ToolSpec.from_type(Place).description == "A place on the map."
    query = ToolSpec.from_type(Query).parameters
    assert query["properties"]["limit"] == {"type": ["integer", "null"]}
    assert sorted(query["required"]) == ["limit", "text"]


def test_pydantic_models_use_their_own_schema() -> None:
    pydantic = pytest.importorskip("pydantic")

    class Person(pydantic.BaseModel):  # type: ignore[name-defined,misc]
        name: str
        age: int

    schema = schema_for(Person)
    assert schema["required"] == ["name", "age"]
    assert build(Person, {"name": "Ada", "age": 36}) == Person(name="Ada", age=36)


def test_validated_json_builds_back_into_the_type() -> None:
    value = {
        "start": {"name": "A", "lat": 1},
        "stops": [{"name": "B", "lat": 2.5, "tags": ["x"]}],
        "mode": "foot",
    }
    assert validate(schema_for(Route), value) is None
    route = build(Route, value)
    assert route == Route(Place("A", 1.0), [Place("B", 2.5, ("x",))], "foot")
    assert isinstance(route.start.lat, float)


def test_names_that_do_not_pass_every_provider_are_refused() -> None:
    with pytest.raises(ValueError, match="not portable"):
        ToolSpec("mcp/files.read")
    with pytest.raises(ValueError, match="share the name"):
        as_tool_specs([get_weather, get_weather])


def test_tool_choice_must_be_a_mode_or_an_offered_tool() -> None:
    tools = as_tool_specs([get_weather])
    check_tool_choice("get_weather", tools)
    check_tool_choice("auto", tools)
    with pytest.raises(ValueError, match="offered: get_weather"):
        check_tool_choice("search", tools)
    with pytest.raises(ValueError, match="needs tools"):
        check_tool_choice("required", ())


# --- property: a schema built from any signature validates the simulator's arguments -------

_LEAVES: list[Any] = [str, int, float, bool, Unit, Literal["a", "b", 3], Place, Query]


def _annotations() -> st.SearchStrategy[Any]:
    leaf = st.sampled_from(_LEAVES)
    return st.recursive(
        leaf,
        lambda inner: st.one_of(
            inner.map(lambda t: list[t]),  # type: ignore[valid-type]
            inner.map(lambda t: dict[str, t]),  # type: ignore[valid-type]
            inner.map(lambda t: t | None),
            st.tuples(inner, inner).map(lambda ts: tuple[ts[0], ts[1]]),  # type: ignore[valid-type]
            inner.map(lambda t: tuple[t, ...]),  # type: ignore[valid-type]
        ),
        max_leaves=4,
    )


_NAMES = st.from_regex(r"[a-z][a-z0-9_]{0,10}", fullmatch=True)


@st.composite
def _signatures(draw: st.DrawFn) -> inspect.Signature:
    names = draw(st.lists(_NAMES, min_size=0, max_size=5, unique=True))
    params = []
    seen_default = False
    for name in names:
        has_default = seen_default or draw(st.booleans())
        seen_default = seen_default or has_default
        params.append(
            inspect.Parameter(
                name,
                inspect.Parameter.POSITIONAL_OR_KEYWORD,
                annotation=draw(_annotations()),
                default=None if has_default else inspect.Parameter.empty,
            )
        )
    return inspect.Signature(params)


@settings(max_examples=150, deadline=None)
@given(signature=_signatures(), seed=st.integers(0, 2**32 - 1))
def test_any_tool_schema_built_from_a_signature_validates_the_simulators_arguments(
    signature: inspect.Signature, seed: int
) -> None:
    def fn(**kwargs: Any) -> None:
        """A generated tool."""

    fn.__signature__ = signature  # type: ignore[attr-defined]
    fn.__annotations__ = {p.name: p.annotation for p in signature.parameters.values()}
    spec = ToolSpec.from_function(fn)
    jsonschema.Draft202012Validator.check_schema(spec.parameters)
    arguments = instance_for(spec.parameters, random.Random(seed))
    assert validate(spec.parameters, arguments) is None
    jsonschema.validate(arguments, spec.parameters, cls=jsonschema.Draft202012Validator)
    for name, value in arguments.items():
        build(fn.__annotations__[name], value)  # builds back into the declared type


def test_an_operation_a_hub_tool_lists_becomes_a_spec_renamed_when_not_portable() -> None:
    from patchwire.connector import ToolInfo

    info = ToolInfo(
        "files.read", "Read a file.", {"type": "object", "properties": {"path": {"type": "string"}}}
    )
    with pytest.raises(ValueError, match="not portable"):
        ToolSpec.from_info(info)
    spec = ToolSpec.from_info(info, name="files_read")
    assert spec.description == "Read a file." and spec.parameters["properties"]["path"]
    assert ToolSpec.from_info(ToolInfo("ping")).parameters == {"type": "object", "properties": {}}
