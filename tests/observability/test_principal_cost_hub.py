"""Cost by principal through a real hub against the OpenAI simulator on loopback
(integration: real sockets, the real clock and a ``patchwire stats`` child process, as the
application and its operator would run them): what
``hub.metrics().principals`` reports per principal and per declared tag is what the replies
cost, agrees with the ledger (``hub.usage``), keeps unknown costs unknown, folds principals
beyond the configured cap, and reaches the table and the JSON."""

from __future__ import annotations

import asyncio
import json
import sys

import pytest
from patchwire.hub import Hub
from patchwire.metrics import MetricsSnapshot
from patchwire.metrics.cap import OVERFLOW
from patchwire.plugins import default_host
from patchwire.principals import Principal
from patchwire.testing.simulator import Simulator

pytestmark = pytest.mark.integration

KEY = "sk-principal-cost-test-key"
CREDENTIAL = "sk-alice-own-key-0123456789"


async def test_cost_by_principal_and_tag_matches_the_replies_and_the_ledger(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PRINCIPAL_COST_KEY", KEY)
    monkeypatch.setenv("PRINCIPAL_COST_ALICE", CREDENTIAL)
    host = default_host()
    alice = Principal(
        "alice@example.com",
        tags={"team": "search", "plan": "pro", "undeclared": "x1"},
        credentials={"api_key": "env:PRINCIPAL_COST_ALICE"},
    )
    bob = Principal("bob", tags={"team": "ads"})
    async with Simulator("openai", plugin_host=host, keys=[KEY, CREDENTIAL]) as sim:
        config = {
            "connectors": {
                "openai": {
                    "base_url": sim.base_url,
                    "api_key": "env:PRINCIPAL_COST_KEY",
                    "timeout": 5,
                }
            },
            "principals": {"tags": ["team"], "metrics_max_principals": 3},
        }
        async with Hub.from_dict(config, host=host) as hub:
            priced = hub.model("openai:gpt-4o-mini")
            unpriced = hub.model("openai:gpt-unpriced-test")
            replies = {
                "alice": [await priced.complete("hi", max_tokens=20, principal=alice)],
                "bob": [
                    await priced.complete("hello", max_tokens=20, principal=bob),
                    await unpriced.complete("hello", max_tokens=20, principal=bob),
                ],
            }
            service = await priced.complete("service", max_tokens=20)
            for n in range(3):  # user-0 is the third kept; user-1 and user-2 are folded
                await priced.complete("x", max_tokens=5, principal=Principal(f"user-{n}"))
            snapshot = hub.metrics()
            # What `patchwire stats` prints for the running application: the same section.
            server = await hub.serve_metrics(port=0, host="127.0.0.1")
            command = [sys.executable, "-m", "patchwire", "stats", "--url", server.url]
            pipe = asyncio.subprocess.PIPE
            child = await asyncio.create_subprocess_exec(*command, stdout=pipe, stderr=pipe)
            stats, stats_err = await child.communicate()
            ledger = {name: hub.usage(principal=p) for name, p in (("alice", alice), ("bob", bob))}
    assert snapshot.principals is not None
    by_principal = snapshot.principals.by_principal
    assert set(by_principal) == {"alice@example.com", "bob", "user-0", OVERFLOW}
    assert snapshot.principals.folded_principals == 2
    alice_cost = by_principal["alice@example.com"]
    assert alice_cost.cost == pytest.approx(float(replies["alice"][0].cost or 0))
    assert alice_cost.cost > 0 and alice_cost.total_cost == alice_cost.cost
    assert alice_cost.input_tokens == replies["alice"][0].usage.input_tokens
    bob_cost = by_principal["bob"]
    assert replies["bob"][1].cost is None
    assert bob_cost.cost == pytest.approx(float(replies["bob"][0].cost or 0))
    assert (bob_cost.calls, bob_cost.cost_unknown, bob_cost.total_cost) == (2, 1, None)
    for name, usage in ledger.items():
        share = by_principal["alice@example.com" if name == "alice" else "bob"]
        assert (usage.calls, usage.unknown_cost) == (share.calls, share.cost_unknown)
        assert usage.cost == pytest.approx(share.cost)
        assert (usage.total_cost is None) == (share.total_cost is None)
    # Only the declared tag is counted; the service identity's call is unattributed.
    assert set(snapshot.principals.by_tag) == {"team"}
    assert set(snapshot.principals.by_tag["team"]) == {"search", "ads"}
    assert snapshot.principals.unattributed.cost == pytest.approx(float(service.cost or 0))
    shares = [*by_principal.values(), snapshot.principals.unattributed]
    assert sum(s.cost for s in shares) == pytest.approx(sum(r.cost for r in snapshot.connectors))
    table = snapshot.render_table()
    assert "cost by principal" in table and "team=search" in table
    assert child.returncode == 0, stats_err.decode()
    printed = stats.decode()
    assert "cost by principal" in printed and "alice@example.com" in printed
    assert "team=ads" in printed and CREDENTIAL not in printed
    text = json.dumps(snapshot.to_dict())
    assert MetricsSnapshot.from_dict(json.loads(text)) == snapshot
    # The principal's credential is a reference resolved for the call: it is nowhere here.
    assert CREDENTIAL not in text + table and "x1" not in text
