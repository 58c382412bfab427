"""What calls cost, as OpenTelemetry counters, with the principal's declared tags.

The GenAI conventions define no cost metric, so these are patchwire's own, named in its
namespace as the conventions ask of extensions:

* ``patchwire.client.cost`` (counter, unit ``{USD}``: the price table's currency, US
  dollars for first-party prices): what a succeeded call's billed tokens cost; a call of
  unknown cost adds nothing here...
* ``patchwire.client.cost.unknown`` (counter, ``{call}``): ...but one here, so an unknown
  cost is never read as zero. Replies served from patchwire's cache bill nothing.

Both carry the call's ``gen_ai.operation.name``, ``gen_ai.provider.name`` and
``gen_ai.request.model`` and, for a call made for a principal, one
``patchwire.principal.tag.<NAME>`` attribute per tag ``[principals] tags`` declares (the
operator chose the names; at most ``max_tag_values`` values per tag are kept, later ones
are ``(other)``). A principal's id is an attribute, ``patchwire.principal.id``, only with
``[exporters.otel] principal_attribute = "hash"`` (a SHA-256 pseudonym) or ``"id"``, for
at most ``max_principals`` ids (later ones ``(other)``): ids are often personal and can be
one per end user. Credentials never reach an event, so never an attribute.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from opentelemetry.metrics import Meter
from patchwire.events import Event
from patchwire.metrics.by_principal import DEFAULT_MAX_PRINCIPALS, DEFAULT_MAX_TAG_VALUES
from patchwire.metrics.cap import (
    OVERFLOW,
    PRINCIPAL_MODES,
    SeriesCap,
    TagCaps,
    exported_principal,
)
from patchwire.principals.principal import well_formed_tag

__all__ = ["COST", "COST_UNKNOWN", "PRINCIPAL_ID", "TAG_PREFIX", "CostCounters"]

COST = "patchwire.client.cost"
COST_UNKNOWN = "patchwire.client.cost.unknown"
PRINCIPAL_ID = "patchwire.principal.id"
TAG_PREFIX = "patchwire.principal.tag."


class CostCounters:
    """``record(event, attributes)`` at each ``call_succeeded``; ``principal_attribute`` is
    one of ``none`` (the default), ``hash`` or ``id``."""

    def __init__(
        self,
        meter: Meter,
        *,
        principal_attribute: str = "none",
        max_principals: int = DEFAULT_MAX_PRINCIPALS,
        max_tag_values: int = DEFAULT_MAX_TAG_VALUES,
    ) -> None:
        if principal_attribute not in PRINCIPAL_MODES:
            raise ValueError(
                f"principal_attribute must be one of {', '.join(PRINCIPAL_MODES)},"
                f" got {principal_attribute!r}"
            )
        self.principal_attribute = principal_attribute
        self._cost = meter.create_counter(
            COST,
            unit="{USD}",
            description="Cost of the billed tokens of succeeded calls, in the price table's"
            " currency (US dollars for first-party prices); unknown costs add nothing.",
        )
        self._unknown = meter.create_counter(
            COST_UNKNOWN,
            unit="{call}",
            description="Succeeded calls whose cost is unknown (no price).",
        )
        self._principals = SeriesCap(max_principals)
        self._tags = TagCaps(max_tag_values)

    def record(self, event: Event, attributes: Mapping[str, Any]) -> None:
        if event.cached:
            return
        labelled = {**attributes, **self._principal(event.data)}
        cost = event.cost
        if cost is not None:
            self._cost.add(float(cost), labelled)
        else:
            self._unknown.add(1, labelled)

    def _principal(self, data: Mapping[str, Any]) -> dict[str, str]:
        who = data.get("principal")
        if not isinstance(who, str):
            return {}
        out: dict[str, str] = {}
        tags = data.get("tags")
        if isinstance(tags, Mapping):
            for name, value in tags.items():
                if not (isinstance(name, str) and isinstance(value, str)):
                    continue
                kept = self._tags.key(name, value) if well_formed_tag(name) else None
                if kept is not None:
                    out[TAG_PREFIX + name] = kept if well_formed_tag(kept) else OVERFLOW
        if self.principal_attribute != "none":
            out[PRINCIPAL_ID] = exported_principal(
                self._principals.key(who), self.principal_attribute
            )
        return out
