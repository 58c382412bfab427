"""Per-connector state the pipeline works with, built once on first use.

One runtime per configured connector holds the connector instance, its auth scheme, its
retry policy and budget, a breaker per model, its limiters (one, plus one per partition
such as a web host), its cache and its embedding batchers.
"""

from __future__ import annotations

import asyncio
import enum
import random
import ssl
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Final

from patchwire.auth.base import AuthScheme
from patchwire.auth.tls import ClientTls, current_context
from patchwire.breaker import BreakerState, CircuitBreaker
from patchwire.budget import RetryBudget
from patchwire.cache import ResponseCache
from patchwire.clock import Clock
from patchwire.config import ConnectorConfig
from patchwire.connector import Connector
from patchwire.events import Event, EventKind, call_event
from patchwire.limiter import Limiter, LimiterBackend, RateLimitInfo
from patchwire.retry import RetryPolicy

if TYPE_CHECKING:
    from patchwire.batching import EmbeddingBatcher

__all__ = ["ROTATES", "ConnectorRuntime", "Policies"]

# What a call to one model in one limiter partition is governed by: its breaker (None when
# disabled), its limiter (None without limits) and what rate-limit headers are reported to.
Policies = tuple[CircuitBreaker | None, Limiter | None, Callable[[RateLimitInfo], None]]


class _Tls(enum.Enum):
    ROTATES = "rotates"


#: ConnectorRuntime.fixed_ssl for a TLS context that may change between attempts (a client
#: certificate's ClientTls): each attempt then asks ConnectorRuntime.ssl
ROTATES: Final = _Tls.ROTATES

_QUOTA_REPORTED = EventKind.QUOTA_REPORTED
#: Event's defaults for the fields of patchwire.events.CallFields after connector, model
#: and time: call_id, operation, duration, retries, input_tokens, output_tokens, cost,
#: cached (a quota report is no call's)
_CALL_DEFAULTS: tuple[int, str, None, int, None, None, None, bool] = (
    0,
    "complete",
    None,
    0,
    None,
    None,
    None,
    False,
)


class ConnectorRuntime:
    def __init__(
        self,
        config: ConnectorConfig,
        connector: Connector,
        auth: AuthScheme,
        ssl_context: ssl.SSLContext | ClientTls | None,
        clock: Clock,
        emit: Callable[[Event], None],
        cache: ResponseCache | None,
        limiter_backend: LimiterBackend | None,
        rng: random.Random,
    ) -> None:
        self.config = config
        self.name = config.name
        self.connector = connector
        self.auth = auth
        self._tls = ssl_context
        self.clock = clock
        self.emit = emit
        self.cache = cache
        self.rng = rng
        r = config.retry
        self.policy = RetryPolicy(
            max_attempts=r.max_attempts,
            initial=r.initial,
            cap=r.cap,
            jitter="decorrelated" if r.jitter == "decorrelated" else "full",
            max_hint=r.max_hint,
        )
        self.budget = RetryBudget(clock, ratio=r.budget_ratio)
        self._limiter_backend = limiter_backend
        self._unlimited = config.limits.empty
        self._breakers: dict[str, CircuitBreaker] = {}
        self._limiters: dict[str | None, Limiter] = {}
        self.batchers: dict[str, EmbeddingBatcher[tuple[float, ...]]] = {}
        self._reporters: dict[tuple[str | None, str | None], Callable[[RateLimitInfo], None]] = {}
        self._policies: dict[tuple[str | None, str | None], Policies] = {}
        #: the policies of the partition None, per model: what an attempt loop of a
        #: connector that does not partition (most) reads, with a dict's get and no call
        #: or tuple key (issue 19); :meth:`policies` fills it
        self.unpartitioned: dict[str | None, Policies] = {}
        #: whether the connector is open (ensure_open and aclose set it); a plain attribute
        #: that every attempt reads, not a property's call (issue 19)
        self.opened = False
        self._open_lock = asyncio.Lock()
        # What the attempts of this connector ask of it, answered once (issue 19): whether
        # it partitions its rate limits (``limit_key`` overridden; the base's answer is
        # None), whether it times some requests itself (``timeout_for`` overridden; else
        # a request's timeout is its operation's, see ``timeouts``), and its TLS context
        # when that never changes (none, or a fixed context), else ROTATES: a client
        # certificate's ClientTls is asked per attempt.
        self.partitioned = type(connector).limit_key is not Connector.limit_key
        self.times_requests = type(connector).timeout_for is not Connector.timeout_for
        #: stages.attempt_timeout's answer per operation, kept by the attempt loop when the
        #: connector does not time requests itself: then the answer depends only on the
        #: operation and the (frozen) config, and every call asks it (issue 19)
        self.timeouts: dict[str, float] = {}
        self.fixed_ssl: ssl.SSLContext | _Tls | None = (
            ssl_context
            if ssl_context is None or isinstance(ssl_context, ssl.SSLContext)
            else ROTATES
        )

    @property
    def ssl(self) -> ssl.SSLContext | None:
        """The TLS context for a new attempt: a rotated client certificate's, once read."""
        return current_context(self._tls)

    async def ensure_open(self) -> None:
        if self.opened:
            return
        async with self._open_lock:
            if not self.opened:
                await self.connector.open()
                self.opened = True

    def breaker(self, model: str | None) -> CircuitBreaker | None:
        cfg = self.config.breaker
        if not cfg.enabled:
            return None
        key = model or ""
        breaker = self._breakers.get(key)
        if breaker is None:

            def transition(old: BreakerState, new: BreakerState) -> None:
                self.emit(
                    Event(
                        EventKind.BREAKER_TRANSITION,
                        self.name,
                        model,
                        time=self.clock.now(),
                        data={"from": old.value, "to": new.value},
                    )
                )

            breaker = CircuitBreaker(
                self.clock,
                failure_ratio=cfg.failure_ratio,
                min_calls=cfg.min_calls,
                window=cfg.window,
                open_for=cfg.open_for,
                half_open_probes=cfg.half_open_probes,
                on_transition=transition,
            )
            self._breakers[key] = breaker
        return breaker

    def limiter(self, partition: str | None) -> Limiter | None:
        if self._unlimited:
            return None
        limiter = self._limiters.get(partition)
        if limiter is None:
            key = self.name if partition is None else f"{self.name}/{partition}"
            limiter = Limiter(key, self.config.limits, self.clock, self._limiter_backend)
            self._limiters[partition] = limiter
        return limiter

    def limiters(self) -> dict[str | None, Limiter]:
        return dict(self._limiters)

    def limiter_used_pct(self) -> float | None:
        """How much of the most-used configured window is spent now, in percent (0-100),
        over every partition's limiter; None when no limiter has been made. This is the
        quota patchwire can show when a provider reports none (Gemini, daily budgets)."""
        shares = [
            100.0 * (1.0 - state.available / state.capacity)
            for limiter in self._limiters.values()
            for state in limiter.snapshot().windows.values()
            if state.capacity > 0
        ]
        return min(100.0, max(0.0, max(shares))) if shares else None

    def limiter_waiters(self) -> int | None:
        """Requests waiting in this connector's limiters now; None when none was made."""
        if not self._limiters:
            return None
        return sum(limiter.snapshot().waiters for limiter in self._limiters.values())

    def breakers(self) -> dict[str, CircuitBreaker]:
        return dict(self._breakers)

    def policies(self, model: str | None, partition: str | None) -> Policies:
        """The breaker, limiter and rate-limit reporter of a call to ``model`` in limiter
        ``partition``: :meth:`breaker`, :meth:`limiter` and :meth:`report_limits`, asked
        once per pair and then kept, as each of them keeps what it makes. Every attempt
        loop needs all three; one look-up here replaces three calls (issue 19)."""
        key = (model, partition)
        found = self._policies.get(key)
        if found is None:
            found = (
                self.breaker(model),
                self.limiter(partition),
                self.report_limits(model, partition),
            )
            self._policies[key] = found
            if partition is None:
                self.unpartitioned[model] = found
        return found

    def report_limits(
        self, model: str | None, partition: str | None
    ) -> Callable[[RateLimitInfo], None]:
        key = (model, partition)
        cached = self._reporters.get(key)
        if cached is not None:
            return cached

        def report(info: RateLimitInfo) -> None:
            limiter = self.limiter(partition)
            if limiter is not None:
                limiter.observe(info)
            # the fields the provider reported, written out: every reply carrying rate-limit
            # headers comes here (issue 19)
            data: dict[str, Any] = {}
            if info.requests_limit is not None:
                data["requests_limit"] = info.requests_limit
            if info.requests_remaining is not None:
                data["requests_remaining"] = info.requests_remaining
            if info.requests_reset is not None:
                data["requests_reset"] = info.requests_reset
            if info.tokens_limit is not None:
                data["tokens_limit"] = info.tokens_limit
            if info.tokens_remaining is not None:
                data["tokens_remaining"] = info.tokens_remaining
            if info.tokens_reset is not None:
                data["tokens_reset"] = info.tokens_reset
            # Event(QUOTA_REPORTED, name, model, time=now, data=data), its other fields at
            # their defaults, built without the frozen __init__'s setattr call per field
            self.emit(
                call_event(
                    _QUOTA_REPORTED,
                    (self.name, model, self.clock.now(), *_CALL_DEFAULTS),
                    data,
                )
            )

        self._reporters[key] = report
        return report

    async def aclose(self) -> None:
        for batcher in self.batchers.values():
            await batcher.aclose()
        self.batchers.clear()
        await self.auth.aclose()
        if self.opened:
            await self.connector.aclose()
            self.opened = False
        # Shared stores (Redis) hold connections; the in-memory ones have nothing to close.
        if self.cache is not None:
            await self.cache.aclose()
        close = getattr(self._limiter_backend, "aclose", None)
        if close is not None:
            await close()
