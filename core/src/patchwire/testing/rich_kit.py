"""Shared pieces for a connector's rich-call tests against the simulator.

- :func:`get_weather` and :func:`get_time`: two plain functions to offer as tools
  (``model.complete(messages, tools=[get_weather, get_time])``); their docstrings and
  annotations are what the tool specs are built from, so every provider's test offers
  the same two schemas (one with an optional argument).
- :class:`Forecast`: an attrs class to ask for as structured output.
- :class:`CapturingWire`: a mixin that keeps every request body a simulator wire reads,
  so a test can check what the connector really sent:
  ``class Wire(CapturingWire, OpenAIWire): pass``, then ``wire.bodies[0]``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, cast

import attrs

from patchwire.testing.sim_wire import SimRequest, SimRoute, WireFormat

__all__ = ["CapturingWire", "Forecast", "get_time", "get_weather"]


def get_weather(city: str, days: int = 1) -> str:
    """Weather forecast for a city.

    Args:
        city: the city's name
        days: how many days ahead
    """
    return f"sunny in {city}"


def get_time(zone: str) -> str:
    """The local time in a time zone."""
    return "12:00"


@attrs.frozen
class Forecast:
    city: str
    high: int
    sunny: bool


class CapturingWire:
    """Keeps the JSON of every request body the wire reads, in order, in ``bodies``.

    Put it before the wire class it records (``class Wire(CapturingWire, AnthropicWire)``);
    keyword options go on to the wire's own ``__init__``. A body the wire then refuses is
    kept too: the test sees what was sent, not only what was answered.
    """

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.bodies: list[Any] = []

    def parse(self, route: SimRoute, body: bytes, path_params: Mapping[str, str]) -> SimRequest:
        self.bodies.append(json.loads(body))
        # The wire class this mixes into comes next in the MRO; the cast says so to mypy.
        wire = cast(WireFormat, super())
        return wire.parse(route, body, path_params)
