"""One attempt against the Acme API: ``POST {base_url}/generate``.

Request ``{"model", "prompt", "max_tokens"}``; reply ``{"output", "usage": {"in", "out"}}``;
errors ``{"error": {"type", "message"}}`` with ``type`` one of ``bad_request``, ``auth``,
``busy`` (retry later) or ``no_credit``. The connector never retries: patchwire does.
"""

from __future__ import annotations

from typing import Any, ClassVar

from patchwire.classification import Classification
from patchwire.connector import Attempt, Capability, Connector, Setting
from patchwire.errorbody import parse_error_body
from patchwire.errors import Category, IntegrationError
from patchwire.http import HttpResponse, send
from patchwire.prices import Price
from patchwire.retry import parse_retry_after
from patchwire.types import Completion, CompletionRequest, Usage

_TYPES = {
    "bad_request": Category.INVALID_REQUEST,
    "auth": Category.AUTH,
    "busy": Category.DEGRADED,
    "no_credit": Category.QUOTA_EXHAUSTED,
}


class AcmeConnector(Connector):
    type_name = "acme"
    version = "0.1.0"
    api_versions = ("v1",)
    capabilities = frozenset({Capability.COMPLETE})
    default_api_key = "env:ACME_API_KEY"
    default_auth_scheme = "bearer"
    settings: ClassVar[dict[str, Setting]] = {
        "default_max_tokens": Setting((int,), 256, "max_tokens when the caller gives none"),
    }

    @classmethod
    def prices(cls) -> dict[str, Price]:
        return {"acme-small": Price(0.10, 0.40)}

    async def complete(self, request: CompletionRequest, attempt: Attempt) -> Completion:
        base = (self.ctx.config.base_url or "https://api.acme.invalid/v1").rstrip("/")
        body = {
            "model": request.model,
            "prompt": "\n".join(m.content for m in request.messages),
            "max_tokens": request.params.get("max_tokens") or self.setting("default_max_tokens"),
        }
        response = await send(attempt, "POST", f"{base}/generate", json_body=body)
        data = response.json()
        try:
            usage = data["usage"]
            return Completion(
                text=str(data["output"]),
                usage=Usage(input_tokens=int(usage["in"]), output_tokens=int(usage["out"])),
                model=request.model,
                request_id=response.headers.get("x-acme-request"),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise IntegrationError(f"Acme reply lacks {exc}: the API may have changed") from None


def classify(error: BaseException, response: Any) -> Classification | None:
    """Acme's body says what went wrong better than the status does."""
    if not isinstance(response, HttpResponse):
        return None
    body = parse_error_body(response.body)
    if body is None or body.type not in _TYPES:
        return None
    return Classification(
        _TYPES[body.type],
        body.message,
        retry_after=parse_retry_after(response.headers),
        status=response.status,
        code=body.type,
        request_id=response.headers.get("x-acme-request"),
    )
