"""What the pipeline asks about a call's principal: whose credentials, which budgets, the ledger.

One :class:`PrincipalGate` per hub. For each call made for a principal it picks the auth
scheme (the principal's own credential references, checked against the sources
``[principals] credential_sources`` allows; else the connector's delegated scheme's view
for that principal; else the connector's own identity), admits the call against the
principal's budgets before anything is sent, and settles the budgets and the ledger with
what the call reported.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from patchwire.errors import Category, InvalidRequestError, PatchwireError
from patchwire.principals.budgets import Admission, Budgets
from patchwire.principals.ledger import Ledger, PrincipalUsage
from patchwire.principals.principal import Principal
from patchwire.principals.settings import PrincipalsConfig
from patchwire.secrets import split_reference

if TYPE_CHECKING:
    from patchwire.auth.base import AuthScheme
    from patchwire.runtime import ConnectorRuntime
    from patchwire.types import Usage

__all__ = ["PrincipalGate"]

_MAX_SCHEMES = 1024

#: builds a connector's auth scheme with some credential settings replaced
BuildAuth = Callable[["ConnectorRuntime", Mapping[str, str]], "AuthScheme"]


class PrincipalGate:
    def __init__(
        self,
        config: PrincipalsConfig,
        build_auth: BuildAuth,
        budgets: Budgets | None,
    ) -> None:
        self.config = config
        self._build_auth = build_auth
        self.budgets = budgets
        self.ledger = Ledger(config.tags)
        self._schemes: OrderedDict[tuple[str, str, tuple[tuple[str, str], ...]], AuthScheme] = (
            OrderedDict()
        )
        self._retired: list[AuthScheme] = []

    # --- credentials -------------------------------------------------------------------------

    def check_credentials(self, principal: Principal) -> None:
        """Refuse references to sources principals may not use (``exec:``, ``file:``...)."""
        allowed = self.config.credential_sources
        for name, reference in principal.credentials.items():
            parts = split_reference(reference)
            source = parts[0] if parts else ""
            if source not in allowed:
                # The reference's body is not shown: it may name a command or a path.
                raise InvalidRequestError(
                    f"principal '{principal.id}': credential '{name}' reads from source"
                    f" '{source}:', which principals may not use (allowed:"
                    f" {', '.join(sorted(allowed))}). A principal's references come from the"
                    " application at run time; allow another source explicitly with"
                    " [principals] credential_sources = [...]"
                )

    def scheme_for(
        self, runtime: ConnectorRuntime, principal: Principal, operation: str | None = None
    ) -> AuthScheme:
        """``operation``: a tool operation's name, for schemes that scope tokens per operation."""
        if principal.credentials:
            self.check_credentials(principal)
            key = (runtime.name, principal.id, tuple(sorted(principal.credentials.items())))
            scheme = self._schemes.get(key)
            if scheme is None:
                scheme = self._build_auth(runtime, principal.credentials)
                self._schemes[key] = scheme
                if len(self._schemes) > _MAX_SCHEMES:
                    _, old = self._schemes.popitem(last=False)
                    self._retired.append(old)
            else:
                self._schemes.move_to_end(key)
            return scheme
        for_principal = getattr(runtime.auth, "for_principal", None)
        if for_principal is not None:
            view: AuthScheme = for_principal(principal.id, operation)
            return view
        return runtime.auth

    async def aclose(self) -> None:
        schemes = [*self._schemes.values(), *self._retired]
        self._schemes.clear()
        self._retired.clear()
        for scheme in schemes:
            await scheme.aclose()

    # --- budgets and ledger ------------------------------------------------------------------

    async def admit(self, principal: Principal, estimate: int) -> Admission | None:
        if self.budgets is None or not self.budgets.applies(principal):
            return None
        try:
            return await self.budgets.admit(principal, estimate)
        except PatchwireError as err:
            if err.category is Category.QUOTA_EXHAUSTED:
                self.ledger.record(self._keys(principal), ok=False, over_budget=True)
            raise

    async def settled(
        self,
        principal: Principal,
        admission: Admission | None,
        usage: Usage | None,
        cost: float | None,
    ) -> None:
        self.ledger.record(
            self._keys(principal),
            ok=True,
            input_tokens=usage.input_tokens if usage else None,
            output_tokens=usage.output_tokens if usage else None,
            cost=cost,
        )
        if admission is not None and self.budgets is not None:
            tokens = usage.input_tokens + usage.output_tokens if usage else None
            await self.budgets.settle(admission, tokens, cost)

    async def failed(
        self, principal: Principal, admission: Admission | None, err: BaseException
    ) -> None:
        if (
            isinstance(err, PatchwireError)
            and err.category is Category.QUOTA_EXHAUSTED
            and admission is None
        ):
            return  # counted by admit
        self.ledger.record(self._keys(principal), ok=False)
        if admission is not None and self.budgets is not None:
            await self.budgets.refund(admission)

    def labels(self, principal: Principal | None) -> dict[str, str]:
        """The principal's declared tags: the only ones that may become metric labels."""
        if principal is None:
            return {}
        return {t: principal.tags[t] for t in self.config.tags if t in principal.tags}

    def _keys(self, principal: Principal) -> list[Any]:
        return self.ledger.keys_for(principal.id, dict(principal.tags))

    def usage(
        self, principal: Principal | str | None = None, tag: tuple[str, str] | None = None
    ) -> PrincipalUsage:
        if principal is not None:
            return self.ledger.usage(
                principal.id if isinstance(principal, Principal) else principal
            )
        if tag is not None:
            if tag[0] not in self.config.tags:
                raise InvalidRequestError(
                    f"tag '{tag[0]}' is not declared in [principals] tags"
                    f" ({', '.join(self.config.tags) or 'none declared'}); only declared tags are tallied"
                )
            return self.ledger.usage(tag)
        raise InvalidRequestError("usage() needs principal=... or tag=(NAME, VALUE)")
