"""The ``aws-sm:`` secret source: GetSecretValue through boto3, rotation-aware.

Region, credentials and endpoint come from AWS's standard chain (``AWS_DEFAULT_REGION``,
``AWS_PROFILE``, ``~/.aws``, an instance or task role, ``AWS_ENDPOINT_URL_SECRETS_MANAGER``),
exactly as the AWS CLI finds them, so nothing about AWS is configured in patchwire.

Values are read again every ``ttl`` seconds (a rotation is picked up without a restart).
During a rotation Secrets Manager holds the new value as ``AWSPENDING`` until the rotation's
last step makes it ``AWSCURRENT``; a service may already accept only the new value in
between. So when a server refuses the current value, :meth:`load_after_rejection` offers
the pending one, and the call's one refresh-and-retry goes through.

Why boto3, in the calling thread, rather than aiobotocore: patchwire's secret sources are
synchronous (a source is asked at most once per TTL, and the answer is cached), botocore
is the AWS SDK every team already trusts for the credential chain, and aiobotocore would
pin botocore to its own release line. The cost is one GetSecretValue round trip on the
event loop's thread per reference per TTL (tens of milliseconds on AWS); the client itself
is made once and kept.
"""

from __future__ import annotations

import json
import threading
from typing import Any

import attrs
from patchwire.secrets import SecretNotFound

from patchwire_aws_secrets.reference import SecretReference, parse_reference

__all__ = ["AwsSecretsSource"]

CURRENT = "AWSCURRENT"
PENDING = "AWSPENDING"

# Error codes whose message is AWS's own explanation, safe to show (they never echo a
# value): say which secret and what AWS said.
_EXPLAINED = {
    "ResourceNotFoundException": "does not exist (or has no version in that stage)",
    "AccessDeniedException": "is not readable with these AWS credentials",
    "DecryptionFailure": "could not be decrypted with its KMS key",
    "InvalidRequestException": "cannot be read now (deleted, or scheduled for deletion?)",
    "InvalidParameterException": "was asked for with an invalid parameter",
}


@attrs.define
class AwsSecretsSource:
    scheme: str = "aws-sm"
    ttl: float | None = 300.0
    # a botocore client (untyped: boto3 ships no type information)
    _client: Any = attrs.field(default=None, init=False, repr=False)
    _lock: threading.Lock = attrs.field(factory=threading.Lock, init=False, repr=False)

    def load(self, body: str) -> str:
        ref = parse_reference(body)
        return self._value(ref, ref.stage or CURRENT)

    def load_after_rejection(self, body: str, rejected: str) -> str:
        """The value to try after a server refused ``rejected``.

        A pinned stage is read again as it is. Otherwise: the current value if it has
        moved on (the rotation finished), else the pending one if a rotation is under way
        and it differs, else the current value again (a plain wrong credential, which the
        caller then reports as unchanged)."""
        ref = parse_reference(body)
        if ref.stage is not None:
            return self._value(ref, ref.stage)
        current = self._value(ref, CURRENT)
        if current != rejected:
            return current
        try:
            pending = self._value(ref, PENDING)
        except SecretNotFound:
            return current  # no rotation under way
        return pending

    def _value(self, ref: SecretReference, stage: str) -> str:
        text = self._fetch(ref.secret_id, stage)
        if ref.json_key is None:
            return text
        return _field(ref, text)

    def _fetch(self, secret_id: str, stage: str) -> str:
        from botocore.exceptions import BotoCoreError, ClientError  # type: ignore[import-untyped]

        try:
            answer = self._secrets_manager().get_secret_value(
                SecretId=secret_id, VersionStage=stage
            )
        except ClientError as exc:
            code = str(exc.response.get("Error", {}).get("Code", "Unknown"))
            what = _EXPLAINED.get(code, f"could not be read ({code})")
            raise SecretNotFound(f"AWS secret '{secret_id}' at stage {stage} {what}") from None
        except BotoCoreError as exc:
            # botocore's messages name the missing piece (no credentials, no region, an
            # endpoint it could not reach) and never a secret value.
            raise SecretNotFound(f"AWS Secrets Manager could not be asked: {exc}") from None
        return _text(secret_id, answer)

    def _secrets_manager(self) -> Any:
        with self._lock:
            if self._client is None:
                import boto3  # type: ignore[import-untyped]
                from botocore.exceptions import BotoCoreError

                try:
                    self._client = boto3.session.Session().client("secretsmanager")
                except BotoCoreError as exc:
                    raise SecretNotFound(
                        f"AWS Secrets Manager client could not be made: {exc}"
                        " (set AWS_DEFAULT_REGION, or use a profile with a region)"
                    ) from None
            return self._client


def _text(secret_id: str, answer: dict[str, Any]) -> str:
    text = answer.get("SecretString")
    if text is None:
        binary = answer.get("SecretBinary")
        try:
            text = bytes(binary).decode("utf-8") if binary is not None else None
        except UnicodeDecodeError:
            raise SecretNotFound(
                f"AWS secret '{secret_id}' is binary and not UTF-8 text; store it as a string"
            ) from None
    if not text:
        raise SecretNotFound(f"AWS secret '{secret_id}' is empty")
    return str(text)


def _field(ref: SecretReference, text: str) -> str:
    try:
        document = json.loads(text)
    except ValueError:
        raise SecretNotFound(
            f"AWS secret '{ref.secret_id}' is not a JSON object, so it has no key"
            f" '{ref.json_key}'; drop '#{ref.json_key}' to read the whole value"
        ) from None
    if not isinstance(document, dict):
        raise SecretNotFound(f"AWS secret '{ref.secret_id}' is JSON but not an object")
    if ref.json_key not in document:
        keys = ", ".join(sorted(map(str, document))) or "none"
        raise SecretNotFound(
            f"AWS secret '{ref.secret_id}' has no key '{ref.json_key}' (its keys: {keys})"
        )
    value = document[ref.json_key]
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise SecretNotFound(
            f"key '{ref.json_key}' of AWS secret '{ref.secret_id}' holds a"
            f" {type(value).__name__}, not a string"
        )
    if value == "":
        raise SecretNotFound(f"key '{ref.json_key}' of AWS secret '{ref.secret_id}' is empty")
    return str(value)
