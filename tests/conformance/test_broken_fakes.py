"""Each conformance rule fails, naming itself, on a connector that breaks just that rule.

The reference is the template's Acme connector (it passes the whole suite, see
contrib/template/tests); every fake in ``broken.py`` is that connector with one defect.
"""

from __future__ import annotations

import inspect
from collections.abc import AsyncIterator
from typing import Any

import pytest
from patchwire.errors import Category
from patchwire.plugins import PluginHost
from patchwire.testing.conformance import (
    RULES,
    CompleteConformance,
    ConformanceFailure,
    EmbedConformance,
    PluginConformance,
    StreamConformance,
    StructuredOutputConformance,
    ToolsConformance,
)

from . import broken as b
from . import broken_rich as r

pytestmark = pytest.mark.integration  # the Acme simulator is a real server on loopback

T = Category.TRANSIENT
C, S, E, P = CompleteConformance, StreamConformance, EmbedConformance, PluginConformance
TL, SO = ToolsConformance, StructuredOutputConformance
OPENAI = {TL, SO}  # the rich-call fakes are the openai connector with one defect
# rule -> (suite class, check, plugin that breaks the rule)
CASES: dict[str, tuple[type, str, Any]] = {
    "classify-success": (C, "test_success_takes_one_attempt", b.plugin_for(b.Fails)),
    "classify-invalid": (
        C,
        "test_invalid_request_is_never_retried",
        b.plugin_for(b.Broken, {"bad_request": T}),
    ),
    "classify-auth": (
        C,
        "test_refused_credential_is_auth_with_one_refresh_at_most",
        b.plugin_for(b.Broken, {"auth": T}),
    ),
    "classify-not-found": (
        C,
        "test_unknown_model_is_invalid",
        b.plugin_for(b.Broken, {"not_found": T}),
    ),
    "classify-rate-limited": (
        C,
        "test_rate_limit_keeps_the_hint_exactly",
        b.plugin_for(b.DropsHint),
    ),
    "classify-conflict": (
        C,
        "test_timeout_and_conflict_are_retried",
        b.plugin_for(b.Broken, {"*": Category.INVALID_REQUEST}),
    ),
    "classify-quota": (C, "test_quota_is_final", b.plugin_for(b.Broken, {"no_credit": T})),
    "classify-server": (
        C,
        "test_server_errors_are_retried_then_classified",
        b.plugin_for(b.Broken, {"busy": Category.INVALID_REQUEST}),
    ),
    "classify-reset": (C, "test_reset_is_retried", b.plugin_for(b.CatchesResets)),
    "classify-hang": (
        C,
        "test_hang_ends_at_the_attempt_timeout",
        b.plugin_for(b.TurnsTimeoutsIntoIntegration),
    ),
    "classify-malformed": (C, "test_malformed_body_is_an_error", b.plugin_for(b.EmptyOnBadBody)),
    "classify-truncated": (C, "test_truncated_body_is_an_error", b.plugin_for(b.PartialOnCutBody)),
    "classify-mixed": (C, "test_no_call_is_lost_under_a_fault_mix", b.plugin_for(b.Aborts)),
    "tools-sent": (
        TL,
        "test_tool_calls_are_what_the_server_sent",
        r.openai_plugin_for(r.DropsTools),
    ),
    "faithful-tool-calls": (
        TL,
        "test_tool_calls_are_what_the_server_sent",
        r.openai_plugin_for(r.LosesArguments),
    ),
    "structured-sent": (
        SO,
        "test_parsed_is_what_the_server_sent",
        r.openai_plugin_for(r.DropsSchema),
    ),
    "stream-truncated": (S, "test_truncated_body_is_an_error", b.plugin_for(b.NoEndCheck)),
    "faithful-text": (C, "test_result_is_what_the_server_sent", b.plugin_for(b.Shouts)),
    "faithful-finish": (C, "test_result_is_what_the_server_sent", b.plugin_for(b.AlwaysStops)),
    "faithful-request-id": (C, "test_result_is_what_the_server_sent", b.plugin_for(b.NoRequestId)),
    "faithful-usage": (C, "test_result_is_what_the_server_sent", b.plugin_for(b.SwappedUsage)),
    "result-types": (C, "test_result_is_what_the_server_sent", b.plugin_for(b.BytesText)),
    "stream-final-usage": (S, "test_chunks_are_what_the_server_sent", b.plugin_for(b.NoFinalUsage)),
    "embed-order": (
        E,
        "test_batch_returns_one_vector_per_input_in_order",
        b.plugin_for(b.Reversed),
    ),
    "no-hidden-retries": (
        C,
        "test_server_errors_are_retried_then_classified",
        b.plugin_for(b.RetriesItself),
    ),
    "same-request": (
        C,
        "test_server_errors_are_retried_then_classified",
        b.plugin_for(b.CountsAttempts),
    ),
    "no-leaks": (C, "test_success_takes_one_attempt", b.plugin_for(b.OwnSession)),
    "loop-not-blocked": (C, "test_success_takes_one_attempt", b.plugin_for(b.Blocks)),
    "no-credential-leak": (C, "test_quota_is_final", b.plugin_for(b.LeaksKey)),
    "cancel": (C, "test_cancel_ends_the_call_and_leaves_nothing", b.plugin_for(b.SwallowsCancel)),
    "deadline": (C, "test_deadline_ends_the_call", b.plugin_for(b.CleansUpSlowly)),
    "stream-early-exit": (
        S,
        "test_leaving_early_releases_the_response",
        b.plugin_for(b.HoldsResponse),
    ),
    "entry-point": (P, "test_loads_through_its_entry_point", b.plugin_for(b.Broken)),
    "contract-version": (
        P,
        "test_states_a_valid_contract_version",
        b.plugin_for(b.Broken, PATCHWIRE_CONTRACT=1),
    ),
    "claimed-works": (P, "test_claimed_capabilities_work", b.plugin_for(b.ClaimsTools)),
    "unclaimed-refused": (
        P,
        "test_unclaimed_capabilities_are_refused_before_sending",
        b.plugin_for(b.ClaimsStreamLate),
    ),
}


# The Blocks fake stalls the loop for longer than the lag bound, so also for longer than
# the suite's default attempt timeout: give its attempts room to end, or they time out.
OVERRIDES: dict[str, dict[str, Any]] = {"loop-not-blocked": {"ATTEMPT_TIMEOUT": 3.0}}


@pytest.fixture(autouse=True)
async def _close_what_the_fakes_leak() -> AsyncIterator[None]:
    yield
    while b.SESSIONS:
        await b.SESSIONS.pop().close()


def test_every_rule_has_a_broken_fake() -> None:
    assert sorted(CASES) == sorted(RULES)


@pytest.mark.parametrize("rule", sorted(CASES))
async def test_the_suite_fails_the_fake_naming_the_rule(rule: str, plugin_host: PluginHost) -> None:
    suite_class, check, plugin = CASES[rule]
    suite = type(
        "Subject",
        (suite_class,),
        {
            "plugin": plugin,
            "wire": "openai" if suite_class in OPENAI else "acme",
            "connector_type": "openai" if suite_class in OPENAI else "acme",
            "model": "gpt-4o-mini"
            if suite_class in OPENAI
            else "acme-embed"
            if suite_class is E
            else "acme-small",
            **OVERRIDES.get(rule, {}),
        },
    )()
    plugin_host.register(plugin, "broken-acme")
    with pytest.raises(ConformanceFailure) as info:
        method = getattr(suite, check)
        takes_host = "conformance_host" in inspect.signature(method).parameters
        outcome = method(plugin_host) if takes_host else method()
        if outcome is not None:
            await outcome
    message = str(info.value)
    assert info.value.rule.id == rule, message
    assert f"conformance rule '{rule}'" in message and "expected:" in message
    assert "observed:" in message and "fix:" in message
