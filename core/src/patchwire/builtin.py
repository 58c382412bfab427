"""Core's own plugins, registered through the same hooks as any third-party plugin."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from patchwire.auth.base import AuthContext, AuthScheme, no_auth
from patchwire.auth.keys import api_key_auth, bearer_auth
from patchwire.classification import Classification
from patchwire.escalation import LoggingEscalation
from patchwire.exec_source import ExecSource
from patchwire.hookspecs import hookimpl
from patchwire.keyring_source import KeyringSource
from patchwire.registry import AuthRegistrar, BackendRegistrar, CommandRegistrar
from patchwire.secrets import EnvSource, FileSource

__all__ = ["BUILTIN_PLUGINS"]


class CoreAuth:
    """Secret sources ``env:``, ``file:``, ``keyring:`` and ``exec:``; static keys, OAuth2 client
    credentials and JWT-bearer service accounts; and TLS refusals classified as ``auth``.

    The token schemes import authlib and joserfc only when a connector uses them, so
    ``import patchwire`` stays fast.
    """

    @hookimpl
    def patchwire_register_auth(self, register: AuthRegistrar) -> None:
        register.source(EnvSource())
        register.source(FileSource())
        register.source(KeyringSource())
        register.source(ExecSource())
        register.scheme("none", no_auth)
        register.scheme("bearer", bearer_auth, secrets=["token"])
        register.scheme("api_key", api_key_auth, secrets=["key"])
        register.scheme(
            "oauth2_client_credentials", _oauth2_client_credentials, secrets=["client_secret"]
        )
        register.scheme("jwt_bearer", _jwt_bearer, secrets=["private_key", "key_file"])
        register.scheme("oauth2_delegated", _oauth2_delegated, secrets=["client_secret"])
        register.scheme("oauth2_token_exchange", _token_exchange, secrets=["client_secret"])

    # A rejected client certificate is a credential problem whichever provider is behind
    # the connection, so this answers before the provider plugins' classifiers.
    @hookimpl(tryfirst=True)
    def patchwire_classify_error(
        self, connector: Any, error: BaseException, response: Any
    ) -> Classification | None:
        from patchwire.auth.tls import classify_tls_failure

        return classify_tls_failure(error)


def _oauth2_delegated(ctx: AuthContext, settings: Mapping[str, Any]) -> AuthScheme:
    from patchwire.auth.delegated import delegated_auth

    return delegated_auth(ctx, settings)


def _token_exchange(ctx: AuthContext, settings: Mapping[str, Any]) -> AuthScheme:
    from patchwire.auth.exchange import token_exchange_auth

    return token_exchange_auth(ctx, settings)


def _oauth2_client_credentials(ctx: AuthContext, settings: Mapping[str, Any]) -> AuthScheme:
    from patchwire.auth.oauth2 import oauth2_client_credentials_auth

    return oauth2_client_credentials_auth(ctx, settings)


def _jwt_bearer(ctx: AuthContext, settings: Mapping[str, Any]) -> AuthScheme:
    from patchwire.auth.jwt_bearer import jwt_bearer_auth

    return jwt_bearer_auth(ctx, settings)


class CoreClassifier:
    """Answers last: status codes and exception types, when no plugin knows the provider."""

    @hookimpl(trylast=True)
    def patchwire_classify_error(
        self, connector: Any, error: BaseException, response: Any
    ) -> Classification | None:
        from patchwire.classify import classify_exception

        return classify_exception(error)


class CoreBackends:
    @hookimpl
    def patchwire_register_backends(self, register: BackendRegistrar) -> None:
        from patchwire.cache import MemoryCacheBackend
        from patchwire.limiter import MemoryBackend

        def memory_limiter(**kwargs: Any) -> MemoryBackend:
            return MemoryBackend()

        def memory_cache(**kwargs: Any) -> MemoryCacheBackend:
            return MemoryCacheBackend(
                kwargs["clock"],
                kwargs.get("max_entries", 10_000),
                kwargs.get("default_ttl", 3600.0),
            )

        register.limiter("memory", memory_limiter)
        register.cache("memory", memory_cache)


class CoreCommands:
    @hookimpl
    def patchwire_register_commands(self, cli: CommandRegistrar) -> None:
        from patchwire.cli import commands

        commands.register_core(cli)


def BUILTIN_PLUGINS() -> list[tuple[str, Any]]:
    """Fresh instances each time, so every plugin host registers its own."""
    return [
        ("patchwire.auth", CoreAuth()),
        ("patchwire.classify", CoreClassifier()),
        ("patchwire.backends", CoreBackends()),
        ("patchwire.escalation", LoggingEscalation()),
        ("patchwire.commands", CoreCommands()),
        ("patchwire.transforms", _core_transforms()),
    ]


def _core_transforms() -> Any:
    from patchwire.transforms.core import CoreTransforms

    return CoreTransforms()
