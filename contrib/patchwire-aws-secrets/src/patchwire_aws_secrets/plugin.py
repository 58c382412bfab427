"""The ``patchwire`` entry point: registers the ``aws-sm:`` secret source.

boto3 is imported when a reference is first read, not here, so ``import patchwire`` and
``patchwire --help`` stay fast with this plugin installed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from patchwire.hookspecs import hookimpl

if TYPE_CHECKING:
    from patchwire.registry import AuthRegistrar

__all__ = ["AwsSecretsPlugin", "plugin"]


class AwsSecretsPlugin:
    PATCHWIRE_CONTRACT = "1.0"

    @hookimpl
    def patchwire_register_auth(self, register: AuthRegistrar) -> None:
        from patchwire_aws_secrets.source import AwsSecretsSource

        register.source(AwsSecretsSource())


plugin = AwsSecretsPlugin()
