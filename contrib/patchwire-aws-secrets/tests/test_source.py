"""The aws-sm: source against moto's standalone server (real HTTP)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from patchwire import Hub
from patchwire.clock import VirtualClock
from patchwire.errors import AuthError
from patchwire.plugins import PluginHost
from patchwire.secrets import SecretNotFound
from patchwire.testing import Delay, FakeScript
from patchwire_aws_secrets import AwsSecretsSource
from patchwire_aws_secrets.plugin import AwsSecretsPlugin

pytestmark = pytest.mark.integration  # a real server process

VALUE = "sk-aws-held-value-0042"


def test_a_plain_secret_is_read_whole(aws: Any) -> None:
    aws.create_secret(Name="prod/openai", SecretString=VALUE)
    assert AwsSecretsSource().load("prod/openai") == VALUE


def test_one_field_of_a_json_secret(aws: Any) -> None:
    aws.create_secret(Name="prod/db", SecretString=json.dumps({"user": "app", "pw": VALUE}))
    assert AwsSecretsSource().load("prod/db#pw") == VALUE
    with pytest.raises(SecretNotFound) as info:
        AwsSecretsSource().load("prod/db#password")
    assert "no key 'password'" in str(info.value) and "pw, user" in str(info.value)
    assert VALUE not in str(info.value)


def test_a_binary_utf8_secret_is_text(aws: Any) -> None:
    aws.create_secret(Name="bin", SecretBinary=VALUE.encode())
    assert AwsSecretsSource().load("bin") == VALUE


def test_a_missing_secret_names_itself_and_its_stage(aws: Any) -> None:
    with pytest.raises(SecretNotFound) as info:
        AwsSecretsSource().load("nowhere/secret")
    assert str(info.value) == (
        "AWS secret 'nowhere/secret' at stage AWSCURRENT does not exist"
        " (or has no version in that stage)"
    )


def test_without_credentials_the_error_says_so(
    aws: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.delenv(name)
    # No shared files and no instance metadata to fall back on (the metadata lookup
    # would otherwise wait on a link-local address that is never reachable here).
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    with pytest.raises(SecretNotFound, match="Unable to locate credentials"):
        AwsSecretsSource().load("prod/openai")


def test_a_pinned_stage_reads_that_version(aws: Any) -> None:
    aws.create_secret(Name="s", SecretString="first")
    aws.put_secret_value(SecretId="s", SecretString="second", VersionStages=["AWSPENDING"])
    source = AwsSecretsSource()
    assert source.load("s") == "first"
    assert source.load("s@AWSPENDING") == "second"
    assert source.load_after_rejection("s@AWSCURRENT", "first") == "first"


def test_after_a_rejection_the_pending_version_is_offered_while_a_rotation_runs(
    aws: Any,
) -> None:
    aws.create_secret(Name="s", SecretString="first")
    source = AwsSecretsSource()
    # No rotation under way: the same value again, which the caller reports as unchanged.
    assert source.load_after_rejection("s", "first") == "first"
    aws.put_secret_value(SecretId="s", SecretString="second", VersionStages=["AWSPENDING"])
    assert source.load_after_rejection("s", "first") == "second"
    # The rotation finished: AWSCURRENT has moved on, whatever was refused.
    _finish_rotation(aws, "s")
    assert source.load_after_rejection("s", "second") == "second"
    assert source.load_after_rejection("s", "first") == "second"


def _finish_rotation(aws: Any, name: str) -> None:
    """The rotation's last step: the pending version becomes current."""
    versions = aws.list_secret_version_ids(SecretId=name)["Versions"]
    stage_of = {v["VersionId"]: v.get("VersionStages", []) for v in versions}
    pending = next(v for v, stages in stage_of.items() if "AWSPENDING" in stages)
    current = next(v for v, stages in stage_of.items() if "AWSCURRENT" in stages)
    aws.update_secret_version_stage(
        SecretId=name,
        VersionStage="AWSCURRENT",
        MoveToVersionId=pending,
        RemoveFromVersionId=current,
    )
    aws.update_secret_version_stage(
        SecretId=name, VersionStage="AWSPENDING", RemoveFromVersionId=pending
    )


def test_the_installed_entry_point_registers_the_source() -> None:
    sources = PluginHost().registries.secret_sources
    assert isinstance(sources.get("aws-sm"), AwsSecretsSource)


async def test_a_rotation_in_the_middle_of_a_workload_fails_no_call(
    aws: Any,
    plugin_host: PluginHost,
    register_plugin: Any,
    virtual_clock: VirtualClock,
    fake_scripts: dict[str, FakeScript],
) -> None:
    """Invariant: across Secrets Manager's four rotation steps, every call succeeds.

    The provider is the strictest kind: at the rotation's set-up step it switches to the
    new key at once and refuses the old one, while AWSCURRENT still holds the old key."""
    register_plugin(AwsSecretsPlugin(), "aws-secrets")
    aws.create_secret(Name="prod/openai", SecretString="key-one")
    accepted = {"key-one"}

    def provider(request: Any, attempt: Any) -> Any:
        token = attempt.headers["Authorization"].removeprefix("Bearer ")
        return "ok" if token in accepted else AuthError("invalid api key", status=401)

    # Each answer takes half a second, so a wave's calls are all in flight together.
    fake_scripts["fake"] = FakeScript(default=Delay(0.5, provider))
    auth = {"scheme": "bearer", "token": "aws-sm:prod/openai"}
    table = {"cache": {"ttl": 0}, "retry": {"max_attempts": 1}, "auth": auth}
    hub = Hub.from_dict(
        {"connectors": {"fake": table}}, host=plugin_host, clock=virtual_clock, seed=3
    )
    async with hub:
        model = hub.model("fake:m")

        async def wave(name: str) -> list[Any]:
            return list(await asyncio.gather(*(model.complete(f"{name}{i}") for i in range(6))))

        replies = await wave("before")
        # createSecret: the new value is stored as AWSPENDING.
        aws.put_secret_value(
            SecretId="prod/openai", SecretString="key-two", VersionStages=["AWSPENDING"]
        )
        replies += await wave("created")
        # setSecret: the service now takes only the new key.
        accepted.clear()
        accepted.add("key-two")
        replies += await wave("switched")
        replies += await wave("tested")
        # finishSecret: the new value becomes AWSCURRENT; the TTL then runs out.
        _finish_rotation(aws, "prod/openai")
        await virtual_clock.sleep(AwsSecretsSource().ttl or 0)
        replies += await wave("after")
    assert len(replies) == 30 and all(r.text == "ok" for r in replies)
    sent = [c.headers["Authorization"] for c in fake_scripts["fake"].calls]
    assert sent[-6:] == ["Bearer key-two"] * 6  # after the rotation: straight to the new key
    assert all(r.attempts == 1 for r in replies[-6:])
