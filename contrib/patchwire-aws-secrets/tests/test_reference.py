"""Parsing ``aws-sm:NAME[#json-key][@stage]``."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from patchwire.secrets import SecretNotFound
from patchwire_aws_secrets import SecretReference, parse_reference

NAMES = st.from_regex(r"[A-Za-z0-9/_+=.:-]{1,40}", fullmatch=True)
KEYS = st.from_regex(r"[A-Za-z0-9_]{1,20}", fullmatch=True)
STAGES = st.sampled_from(["AWSCURRENT", "AWSPENDING", "AWSPREVIOUS", "blue-v2"])


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("prod/openai", SecretReference("prod/openai")),
        ("prod/openai#api_key", SecretReference("prod/openai", "api_key")),
        ("prod/openai@AWSPENDING", SecretReference("prod/openai", None, "AWSPENDING")),
        ("prod/openai#k@AWSPREVIOUS", SecretReference("prod/openai", "k", "AWSPREVIOUS")),
        (
            "arn:aws:secretsmanager:eu-west-1:123456789012:secret:openai-AbCdEf#key",
            SecretReference(
                "arn:aws:secretsmanager:eu-west-1:123456789012:secret:openai-AbCdEf", "key"
            ),
        ),
        ("team@prod@AWSCURRENT", SecretReference("team@prod", None, "AWSCURRENT")),
    ],
)
def test_references_parse(body: str, expected: SecretReference) -> None:
    assert parse_reference(body) == expected


@pytest.mark.parametrize("body", ["", "#key", "name#", "name@", "bad name", "name@bad stage"])
def test_malformed_references_say_the_form(body: str) -> None:
    with pytest.raises(SecretNotFound, match=r"NAME\[#json-key\]\[@stage\]"):
        parse_reference(body)


@given(NAMES, st.none() | KEYS, st.none() | STAGES)
def test_every_written_reference_reads_back_as_written(
    name: str, key: str | None, stage: str | None
) -> None:
    body = name + (f"#{key}" if key else "") + (f"@{stage}" if stage else "")
    assert parse_reference(body) == SecretReference(name, key, stage)
