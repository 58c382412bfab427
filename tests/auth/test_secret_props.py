"""A Secret never shows its value, however it is printed, and registered values are masked."""

from __future__ import annotations

import logging
import pickle

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from patchwire.auth.tokens import AccessToken, TokenCache
from patchwire.clock import VirtualClock
from patchwire.redact import MASK, Redactor, install_log_redaction
from patchwire.secrets import Secret

# No '*': the mask itself must not be able to spell a value.
_ALPHABET = st.characters(
    min_codepoint=33, max_codepoint=0x2FFF, exclude_categories=("Cs",), exclude_characters="*"
)
values = st.text(alphabet=_ALPHABET, min_size=8, max_size=48).filter(lambda v: len(set(v)) > 3)
surroundings = st.text(alphabet=_ALPHABET, max_size=30)


@settings(max_examples=150, deadline=None)
@given(value=values, reference=st.sampled_from(["env:KEY", "file:/run/secrets/k", ""]))
def test_secret_value_never_in_repr_str_format_or_containers(value: str, reference: str) -> None:
    """Invariant: every way Python turns a Secret (or a token holding one) into text hides it."""
    secret = Secret(value, reference)
    token = AccessToken(secret, expires_in=60)
    shown = [
        repr(secret),
        str(secret),
        f"{secret}",
        f"{secret!r}",
        f"{secret:>80}",
        format(secret, "s"),
        "%s %r" % (secret, secret),  # noqa: UP031 - the printf style logging uses
        "{}".format(secret),  # noqa: UP032 - str.format, as templates use
        repr([secret, {"k": secret}]),
        repr(token),
        str(token),
        str(ValueError(secret)),
    ]
    for text in shown:
        assert value not in text
    assert secret.reveal() == value
    assert token.authorization() == f"Bearer {value}"


@settings(max_examples=40, deadline=None)
@given(value=values)
def test_a_secret_cannot_be_pickled(value: str) -> None:
    with pytest.raises(TypeError, match="cannot be pickled"):
        pickle.dumps(Secret(value, "env:K"))


@settings(
    max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(value=values, before=surroundings, after=surroundings)
def test_a_secret_object_or_its_value_never_reaches_a_log_record(
    value: str, before: str, after: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Invariant: once registered, the value is masked in every record however it was
    logged (argument, message, mapping, exception), and the Secret object shows no value."""
    install_log_redaction()
    redactor = Redactor()
    redactor.add(value)
    secret = Secret(value, "env:K")
    log = logging.getLogger("patchwire.test.secrets")
    caplog.clear()
    with caplog.at_level(logging.DEBUG):
        log.debug("object %s", secret)
        log.info("value %s", before + secret.reveal() + after)
        log.warning(before + secret.reveal() + after)
        log.error("mapping %(v)s", {"v": secret.reveal()})
        try:
            raise RuntimeError(f"failed with {secret.reveal()}")
        except RuntimeError:
            log.exception("boom")
    text = caplog.text + "".join(r.getMessage() for r in caplog.records)
    assert value not in text
    assert MASK in text


@settings(max_examples=150, deadline=None)
@given(value=values, before=surroundings, after=surroundings)
def test_redact_masks_every_occurrence(value: str, before: str, after: str) -> None:
    """Invariant: redact(text) never contains a registered value, wherever it sits."""
    redactor = Redactor()
    redactor.add(value)
    assert value not in redactor.redact(before + value + after + value)


def test_the_token_cache_repr_shows_no_token() -> None:
    cache = TokenCache(VirtualClock(), _never)
    assert "generation=0" in repr(cache)


async def _never() -> AccessToken:
    raise AssertionError("not called")
