"""The resolver reads its clock only for a secret whose source re-reads it after a TTL
(issue 19: every call's key look-up read the clock, for ``env:`` keys kept for the
process). A TTL source must still be read again once its TTL has passed, so a rotated
value applies from the next call."""

from __future__ import annotations

from patchwire.clock import VirtualClock
from patchwire.redact import Redactor
from patchwire.secrets import EnvSource, SecretResolver


class _CountingClock(VirtualClock):
    def __init__(self) -> None:
        super().__init__()
        self.reads = 0

    def now(self) -> float:
        self.reads += 1
        return super().now()


class _Rotating:
    """A source re-read every 60 s whose value changes on each read."""

    ttl: float | None = 60.0

    def __init__(self) -> None:
        self.loads = 0

    def load(self, body: str) -> str:
        self.loads += 1
        return f"{body}-value-{self.loads}"


def test_a_process_long_secret_is_served_without_reading_the_clock() -> None:
    clock = _CountingClock()
    resolver = SecretResolver({"env": EnvSource(environ={"K": "sk-one"})}, clock, Redactor())
    assert resolver.resolve("env:K").reveal() == "sk-one"
    first = clock.reads
    for _ in range(5):
        assert resolver.resolve("env:K").reveal() == "sk-one"
    assert clock.reads == first


def test_a_ttl_secret_is_read_again_once_its_ttl_passed() -> None:
    clock = _CountingClock()
    source = _Rotating()
    resolver = SecretResolver({"vault": source}, clock, Redactor())
    assert resolver.resolve("vault:key").reveal() == "key-value-1"
    clock.advance(59.0)
    assert resolver.resolve("vault:key").reveal() == "key-value-1"
    clock.advance(1.0)
    assert resolver.resolve("vault:key").reveal() == "key-value-2"  # the next call
    assert resolver.resolve("vault:key").reveal() == "key-value-2"
    assert source.loads == 2
