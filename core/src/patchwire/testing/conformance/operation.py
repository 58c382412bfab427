"""Checks every operation keeps, whatever it returns: each class of answer ends in the
right category after the right number of attempts, the server sees one request per
attempt and the same one each time, and cancellation and deadlines end the call."""

from __future__ import annotations

import abc
import asyncio
import time
from typing import Any, ClassVar

from patchwire.errors import Category, PatchwireError
from patchwire.hub import Hub
from patchwire.plugins import PluginHost
from patchwire.testing.conformance.harness import SECRET, Run, SimulatedSuite, check_none_lost
from patchwire.testing.conformance.rules import require
from patchwire.testing.conformance.watch import cancel_outcome
from patchwire.testing.sim_faults import FaultMix
from patchwire.testing.sim_wire import ErrorKind

__all__ = ["OperationChecks"]

RETRYABLE = (Category.TRANSIENT, Category.DEGRADED, Category.RATE_LIMITED)
PROMPT = "conformance check"


def _category(error: PatchwireError | None) -> str:
    return "a result (no error)" if error is None else f"{error.category} ({error!s:.200})"


class OperationChecks(SimulatedSuite, abc.ABC):
    """The checks of one operation. Subclasses implement :meth:`invoke`."""

    #: the wait hint injected 429s carry, in seconds (whole: every wire can spell it)
    RETRY_HINT: ClassVar[float] = 3.0
    MIXED_CALLS: ClassVar[int] = 24

    @abc.abstractmethod
    async def invoke(self, hub: Hub, **options: Any) -> Any:
        """One call of the operation (a stream is read to its end)."""

    def model_ref(self) -> str:
        return f"{self.connector_name}:{self.model}"

    # --- helpers ----------------------------------------------------------------------

    def _attempts(self, run: Run, error: PatchwireError | None, result: Any = None) -> int | None:
        if error is not None:
            return error.attempts
        return getattr(result, "attempts", None)

    def _one_request_per_attempt(self, run: Run, attempts: int | None, error: Any = None) -> None:
        if attempts is None:
            return
        require(
            run.requests == attempts,
            "no-hidden-retries",
            expected=f"{attempts} request(s) at the server (the attempts the pipeline counted)",
            observed=f"{run.requests} request(s) at the server",
            frame=run.frame(error),
        )

    def _same_request(self, run: Run) -> None:
        bodies = [r.body for r in run.records]
        require(
            len(set(bodies)) <= 1,
            "same-request",
            expected="every attempt sends the same request body",
            observed="bodies differ: " + " | ".join(repr(b[:160]) for b in bodies[:3]),
            frame=run.frame(),
        )

    async def _final_error(
        self,
        host: PluginHost,
        rule: str,
        categories: tuple[Category, ...],
        attempts: range,
        *,
        faults: FaultMix | None = None,
        force: tuple[ErrorKind, int | None] | None = None,
        keys: tuple[str, ...] = (SECRET,),
        within: float | None = None,
    ) -> PatchwireError:
        """The error the call ends in, checked against the rule; ``within`` bounds how long the
        call itself may take (set-up and teardown of the hub and simulator are not counted:
        on a loaded machine they take seconds)."""
        async with self.run(host, faults or FaultMix(), keys=keys) as run:
            if force is not None:
                run.sim.force_error(force[0], status=force[1])
            start = time.monotonic()
            error = await run.error_of(self.invoke(run.hub))
            took = time.monotonic() - start
            answer = f"{force[0]} as HTTP {force[1] or 'default'}" if force else str(faults)
            require(
                error is not None and error.category in categories,
                rule,
                expected=f"{' or '.join(categories)} for {answer}",
                observed=_category(error),
                frame=run.frame(error),
            )
            assert error is not None
            require(
                error.attempts in attempts,
                rule,
                expected=f"attempts in {list(attempts)}",
                observed=f"{error.attempts} attempt(s)",
                frame=run.frame(error),
            )
            require(
                within is None or took < within,
                rule,
                expected=f"the call ends within {within}s",
                observed=f"it took {took:.2f}s",
                frame=run.frame(error),
            )
            self._one_request_per_attempt(run, error.attempts, error)
            self._same_request(run)
        return error

    # --- classification ---------------------------------------------------------------

    async def test_success_takes_one_attempt(self, conformance_host: PluginHost) -> None:
        async with self.run(conformance_host) as run:
            error = await run.error_of(self.invoke(run.hub))
            require(
                error is None,
                "classify-success",
                expected="a result",
                observed=_category(error),
                frame=run.frame(error),
            )
            require(
                run.requests == 1,
                "no-hidden-retries",
                expected="1 request at the server for one successful call",
                observed=f"{run.requests} request(s)",
                frame=run.frame(),
            )

    async def test_invalid_request_is_never_retried(self, conformance_host: PluginHost) -> None:
        for status in (400, 422):
            await self._final_error(
                conformance_host,
                "classify-invalid",
                (Category.INVALID_REQUEST,),
                range(1, 2),
                force=(ErrorKind.INVALID_REQUEST, status),
            )

    async def test_refused_credential_is_auth_with_one_refresh_at_most(
        self, conformance_host: PluginHost
    ) -> None:
        await self._final_error(
            conformance_host,
            "classify-auth",
            (Category.AUTH,),
            range(1, 3),
            keys=("a-different-key-entirely",),
        )
        await self._final_error(
            conformance_host,
            "classify-auth",
            (Category.AUTH,),
            range(1, 3),
            force=(ErrorKind.AUTH, 403),
        )

    async def test_unknown_model_is_invalid(self, conformance_host: PluginHost) -> None:
        await self._final_error(
            conformance_host,
            "classify-not-found",
            (Category.INVALID_REQUEST,),
            range(1, 2),
            force=(ErrorKind.NOT_FOUND, 404),
        )

    async def test_rate_limit_keeps_the_hint_exactly(self, conformance_host: PluginHost) -> None:
        async with self.run(conformance_host, max_attempts=1) as run:
            run.sim.force_error(ErrorKind.RATE_LIMITED, status=429, retry_after=self.RETRY_HINT)
            error = await run.error_of(self.invoke(run.hub))
            sent = run.records[-1].retry_after if run.records else None
            require(
                error is not None and error.category is Category.RATE_LIMITED,
                "classify-rate-limited",
                expected="rate_limited for a 429",
                observed=_category(error),
                frame=run.frame(error),
            )
            assert error is not None
            # A hint written as a date or a reset time reads a few ms less by the time
            # the client parses it: that is the only slack allowed.
            same = (
                sent is not None
                and error.retry_after is not None
                and abs(error.retry_after - sent) <= 0.05
            )
            require(
                same,
                "classify-rate-limited",
                expected=f"retry_after == {sent} (the server's hint)",
                observed=f"retry_after == {error.retry_after}",
                frame=run.frame(error),
            )

    async def test_timeout_and_conflict_are_retried(self, conformance_host: PluginHost) -> None:
        for status in (408, 409):
            await self._final_error(
                conformance_host,
                "classify-conflict",
                RETRYABLE,
                range(self.MAX_ATTEMPTS, self.MAX_ATTEMPTS + 1),
                force=(ErrorKind.SERVER_ERROR, status),
            )

    async def test_quota_is_final(self, conformance_host: PluginHost) -> None:
        await self._final_error(
            conformance_host,
            "classify-quota",
            (Category.QUOTA_EXHAUSTED,),
            range(1, 2),
            force=(ErrorKind.QUOTA_EXHAUSTED, None),
        )

    async def test_server_errors_are_retried_then_classified(
        self, conformance_host: PluginHost
    ) -> None:
        for faults in (FaultMix(server_error=1.0), FaultMix(overloaded=1.0, retry_after=0.05)):
            await self._final_error(
                conformance_host,
                "classify-server",
                RETRYABLE,
                range(self.MAX_ATTEMPTS, self.MAX_ATTEMPTS + 1),
                faults=faults,
            )

    async def test_reset_is_retried(self, conformance_host: PluginHost) -> None:
        await self._final_error(
            conformance_host,
            "classify-reset",
            RETRYABLE,
            range(self.MAX_ATTEMPTS, self.MAX_ATTEMPTS + 1),
            faults=FaultMix(reset=1.0),
        )

    async def test_hang_ends_at_the_attempt_timeout(self, conformance_host: PluginHost) -> None:
        # The simulator's hang never ends, so a connector that shields its request from
        # cancellation never returns: the margin is for a loaded machine, not for the connector.
        await self._final_error(
            conformance_host,
            "classify-hang",
            (Category.DEGRADED,),
            range(self.MAX_ATTEMPTS, self.MAX_ATTEMPTS + 1),
            faults=FaultMix(hang=1.0),
            within=self.MAX_ATTEMPTS * self.ATTEMPT_TIMEOUT + 5.0,
        )

    async def test_malformed_body_is_an_error(self, conformance_host: PluginHost) -> None:
        await self._final_error(
            conformance_host,
            "classify-malformed",
            (Category.INTEGRATION, *RETRYABLE),
            range(1, self.MAX_ATTEMPTS + 1),
            faults=FaultMix(malformed=1.0),
        )

    async def test_truncated_body_is_an_error(self, conformance_host: PluginHost) -> None:
        await self._final_error(
            conformance_host,
            self.truncation_rule,
            (Category.INTEGRATION, *RETRYABLE),
            range(1, self.MAX_ATTEMPTS + 1),
            faults=FaultMix(truncated=1.0),
        )

    truncation_rule: ClassVar[str] = "classify-truncated"

    async def test_no_call_is_lost_under_a_fault_mix(self, conformance_host: PluginHost) -> None:
        faults = FaultMix(
            server_error=0.2, rate_limited=0.1, reset=0.05, malformed=0.05, retry_after=0.01
        )
        async with self.run(conformance_host, faults) as run:
            outcomes = await asyncio.gather(
                *(self.invoke(run.hub) for _ in range(self.MIXED_CALLS)), return_exceptions=True
            )
            run.errors.extend(o for o in outcomes if isinstance(o, PatchwireError))
            check_none_lost(list(outcomes), run.frame())

    # --- lifecycle ---------------------------------------------------------------------

    async def test_cancel_ends_the_call_and_leaves_nothing(
        self, conformance_host: PluginHost
    ) -> None:
        async with self.run(conformance_host, FaultMix(hang=1.0)) as run:
            task = asyncio.ensure_future(self.invoke(run.hub))
            await asyncio.sleep(0.05)
            start = time.monotonic()
            outcome = await cancel_outcome(task)
            require(
                outcome == "cancelled",
                "cancel",
                expected="CancelledError right after task.cancel()",
                observed=f"{outcome} after {time.monotonic() - start:.2f}s",
                frame=run.frame(task.exception() if task.done() and not task.cancelled() else None),
            )

    async def test_deadline_ends_the_call(self, conformance_host: PluginHost) -> None:
        deadline = self.ATTEMPT_TIMEOUT / 2
        async with self.run(conformance_host, FaultMix(hang=1.0)) as run:
            start = time.monotonic()
            error = await run.error_of(self.invoke(run.hub, timeout=deadline))
            elapsed = time.monotonic() - start
            require(
                error is not None and error.category is Category.DEGRADED and elapsed < 2.0,
                "deadline",
                expected=f"degraded within ~{deadline}s (timeout={deadline})",
                observed=f"{_category(error)} after {elapsed:.2f}s",
                frame=run.frame(error),
            )
