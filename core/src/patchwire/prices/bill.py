"""A call's cost by rule: what each pricing rule charged, and which rules were unknown.

The charges, in the order an invoice lists them:

* ``input``: prompt tokens neither read from nor written to the prompt cache;
* ``cache_read``, ``cache_write_5m``, ``cache_write_1h``: prompt-cache reads and writes;
* ``output``: visible output; ``reasoning``: reasoning/thinking output;
* ``per_unit:NAME``: requests billed per unit, such as ``per_unit:web_search``.

A context-length tier replaces the token rates for the whole call when the prompt is
longer than its threshold; a service tier multiplies every token charge (not per-unit
charges). A rule the call used whose figure is unknown is named in ``missing``
(``cache_write_1h``, ``context_tier:>200000``, ``service_tier:priority``,
``per_unit:web_search``), and the total is then None: a partial sum would be a silently
low bill.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from operator import itemgetter
from typing import Any

import attrs

from patchwire.filling import WeaklyReferenced, twin
from patchwire.prices.model import STANDARD_TIERS, Price
from patchwire.types import Usage

__all__ = ["Bill", "Cost", "bill"]

_PER_MILLION = 1_000_000

_amount = itemgetter(1)  # of a (rule, amount) charge
_new_float = float.__new__


class Cost(float):
    """A known cost: a float (``reply.cost`` stays a number) that also carries its bill.

    ``breakdown`` maps each rule to what it charged; ``cache_savings`` is what the prompt
    cache saved against paying the input rate for every prompt token (reads' discount less
    writes' premium; negative when writes cost more than reads saved).
    """

    # _breakdown is None until breakdown is first read, for a cost made by Bill.cost():
    # then it is built from _charges, the bill's (rule, amount) pairs. The pipeline reads
    # a cost's total and savings on every priced call and its breakdown on none.
    __slots__ = ("_breakdown", "_charges", "cache_savings", "currency")

    _breakdown: dict[str, float] | None
    _charges: tuple[tuple[str, float], ...]
    cache_savings: float
    currency: str

    def __new__(
        cls,
        total: float,
        breakdown: Mapping[str, float] | Iterable[tuple[str, float]],
        cache_savings: float,
        currency: str,
    ) -> Cost:
        self = float.__new__(cls, total)  # what super() finds, without building a super
        self._breakdown = dict(breakdown)
        self.cache_savings = cache_savings
        self.currency = currency
        return self

    @property
    def breakdown(self) -> Mapping[str, float]:
        """What each rule charged (the same dict on every read)."""
        made = self._breakdown
        if made is None:
            made = self._breakdown = dict(self._charges)
        return made

    def __reduce__(self) -> tuple[object, ...]:
        return (Cost, (float(self), self.breakdown, self.cache_savings, self.currency))


@attrs.frozen(slots=True)
class Bill(WeaklyReferenced):
    """What a call cost under one price: the charges by rule, and the rules not known."""

    charges: tuple[tuple[str, float], ...]
    missing: tuple[str, ...] = ()
    cache_savings: float = 0.0
    currency: str = "USD"

    @property
    def total(self) -> float | None:
        return None if self.missing else sum(map(_amount, self.charges))

    def cost(self) -> Cost | None:
        # total's rule, read here rather than through the property (a call per priced call)
        if self.missing:
            return None
        charges = self.charges
        # Cost(...) with its slots stored here: the class call runs Cost.__new__, a Python
        # frame, on every priced call, and its breakdown, a dict nobody on the call's path
        # reads, is built on its first read (issue 19). The total is summed as sum() sums
        # (from the int 0, in order), without sum's map and itemgetter call per charge.
        total: float = 0
        for _, amount in charges:
            total += amount
        made: Cost = _new_float(Cost, total)
        made._breakdown = None
        made._charges = charges
        made.cache_savings = self.cache_savings
        made.currency = self.currency
        return made


# A Bill being filled in (see patchwire.filling).
_BillFilling = twin(Bill)


def _filled(
    charges: tuple[tuple[str, float], ...],
    missing: tuple[str, ...],
    cache_savings: float,
    currency: str,
) -> Bill:
    """``Bill(charges, missing, cache_savings, currency)`` without the frozen ``__init__``'s
    setattr call per field: every priced call makes one (issue 19)."""
    made: Any = object.__new__(_BillFilling)  # its slots are Bill's, which mypy cannot see
    made.charges = charges
    made.missing = missing
    made.cache_savings = cache_savings
    made.currency = currency
    made.__class__ = Bill
    built: Bill = made
    return built


def _context_rates(price: Price, prompt: int, missing: list[str]) -> Price:
    rates = price
    for tier in price.tiers:  # sorted by threshold: the last one exceeded applies
        if prompt > tier.above:
            if tier.price is None:
                missing.append(f"context_tier:>{tier.above}")
                return price
            rates = tier.price
    return rates


def bill(price: Price, usage: Usage) -> Bill:
    """The bill for ``usage`` under ``price``. Counts are clamped into their containers
    (cache reads and writes within the prompt, reasoning within the output)."""
    # Every priced call runs this: clamps are comparisons rather than min and max calls,
    # the rates' fallbacks (cached_rate, reasoning_rate) are read once, and a price without
    # context tiers or a standard service tier skips their lookups.
    prompt = usage.input_tokens
    if not prompt > 0:
        prompt = 0
    tier = usage.service_tier or "standard"
    if (
        not price.tiers
        and tier in STANDARD_TIERS
        and not (
            usage.cached_input_tokens
            or usage.cache_creation_input_tokens
            or usage.cache_creation_1h_input_tokens
            or usage.reasoning_tokens
        )
        and not usage.web_search_requests > 0
    ):
        return _plain(price, prompt, usage.output_tokens)
    return _by_rule(price, usage, prompt, tier)


def _by_rule(price: Price, usage: Usage, prompt: int, tier: str) -> Bill:
    """:func:`bill` for any call: every rule; ``prompt`` is the input count clamped at 0
    and ``tier`` the service tier ("standard" when the reply named none)."""
    missing: list[str] = []
    rates = _context_rates(price, prompt, missing) if price.tiers else price
    factor = 1.0 if tier in STANDARD_TIERS else price.service_factor(tier)
    if factor is None:
        missing.append(f"service_tier:{tier}")
        factor = 1.0

    # Most calls neither use the prompt cache nor reason: a count of 0 is 0 clamped, and
    # is not put through min and max (a call each).
    cached, created, created_1h = (
        usage.cached_input_tokens,
        usage.cache_creation_input_tokens,
        usage.cache_creation_1h_input_tokens,
    )
    read = min(max(0, cached), prompt) if cached else 0
    written = min(max(0, created), prompt - read) if created else 0
    written_1h = min(max(0, created_1h), written) if created_1h else 0
    written_5m = written - written_1h
    plain = prompt - read - written
    output = usage.output_tokens
    if not output > 0:
        output = 0
    reasoning = min(max(0, usage.reasoning_tokens), output) if usage.reasoning_tokens else 0

    input_rate = rates.input_per_million
    output_rate = rates.output_per_million
    cached_rate = rates.cached_input_per_million
    if cached_rate is None:
        cached_rate = input_rate
    reasoning_rate = rates.reasoning_output_per_million
    if reasoning_rate is None:
        reasoning_rate = output_rate
    write_5m, write_1h = rates.cache_write_5m_per_million, rates.cache_write_1h_per_million
    # Each rule written out, in invoice order: most calls use two (input and output) and
    # the rest cost a test each. The input, cache-read, output and reasoning rates are
    # never None (Price makes the two required ones floats, and the fallbacks above fill
    # the optional ones); only the cache-write rates may be unknown.
    charges: list[tuple[str, float]] = []
    if plain:
        charges.append(("input", plain * input_rate * factor / _PER_MILLION))
    if read:
        charges.append(("cache_read", read * cached_rate * factor / _PER_MILLION))
    if written_5m:
        if write_5m is None:
            missing.append("cache_write_5m")
        else:
            charges.append(("cache_write_5m", written_5m * write_5m * factor / _PER_MILLION))
    if written_1h:
        if write_1h is None:
            missing.append("cache_write_1h")
        else:
            charges.append(("cache_write_1h", written_1h * write_1h * factor / _PER_MILLION))
    visible = output - reasoning
    if visible:
        charges.append(("output", visible * output_rate * factor / _PER_MILLION))
    if reasoning:
        charges.append(("reasoning", reasoning * reasoning_rate * factor / _PER_MILLION))
    searches = usage.web_search_requests
    if searches > 0:
        each = price.unit_price("web_search")
        if each is None:
            missing.append("per_unit:web_search")
        else:
            charges.append(("per_unit:web_search", searches * each))

    savings = read * (input_rate - cached_rate)
    if write_5m is not None:
        savings -= written_5m * (write_5m - input_rate)
    if write_1h is not None:
        savings -= written_1h * (write_1h - input_rate)
    return _filled(tuple(charges), tuple(missing), savings * factor / _PER_MILLION, price.currency)


def _plain(price: Price, prompt: int, output: int) -> Bill:
    """:func:`bill`'s answer for a call that used no rule but the input and output rates
    (no context tier, a standard service tier, no prompt cache, no reasoning, no per-unit
    charge): most calls (issue 19). Its figures are bill()'s, term by term: the service
    factor there is 1.0, and x * 1.0 is x exactly; a count of 0 is kept in the savings'
    products, which give 0.0, -0.0 or nan by the rates' signs as they do there."""
    if not output > 0:
        output = 0
    input_rate = price.input_per_million
    cached_rate = price.cached_input_per_million
    if cached_rate is None:
        cached_rate = input_rate
    write_5m, write_1h = price.cache_write_5m_per_million, price.cache_write_1h_per_million
    savings = 0 * (input_rate - cached_rate)
    if write_5m is not None:
        savings -= 0 * (write_5m - input_rate)
    if write_1h is not None:
        savings -= 0 * (write_1h - input_rate)
    if prompt:
        charges: tuple[tuple[str, float], ...] = (
            (
                ("input", prompt * input_rate / _PER_MILLION),
                ("output", output * price.output_per_million / _PER_MILLION),
            )
            if output
            else (("input", prompt * input_rate / _PER_MILLION),)
        )
    else:
        charges = (("output", output * price.output_per_million / _PER_MILLION),) if output else ()
    return _filled(charges, (), savings / _PER_MILLION, price.currency)
