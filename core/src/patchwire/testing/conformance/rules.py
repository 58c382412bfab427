"""The rules the conformance suite enforces, and the failure that names one.

Every check ends in :func:`require`: when the connector breaks a rule, the failure says
which rule, what the suite expected, what it observed, where in the connector to look
and how to fix it, so an author never needs to read core's source to act on it.
"""

from __future__ import annotations

import inspect
import traceback
from collections.abc import Iterator

import attrs

__all__ = ["RULES", "ConformanceFailure", "Rule", "connector_frame", "require"]


@attrs.frozen
class Rule:
    id: str
    statement: str
    fix: str


_ALL = (
    # --- classification: every class of answer ends in the right category ---------------
    Rule(
        "classify-success",
        "a 200 answer is a result after exactly one attempt",
        "parse the success body into the result type and return it; raise nothing",
    ),
    Rule(
        "classify-invalid",
        "a 400/422 answer is invalid_request after one attempt, never retried",
        "map your provider's bad-request body to Category.INVALID_REQUEST in"
        " patchwire_classify_error (or return None and let core read the status)",
    ),
    Rule(
        "classify-auth",
        "a 401/403 answer is auth, with one credential refresh at most",
        "map your provider's auth errors to Category.AUTH; never retry them yourself",
    ),
    Rule(
        "classify-not-found",
        "a 404 (unknown model) is invalid_request after one attempt",
        "map 'no such model' to Category.INVALID_REQUEST, not to a retryable category",
    ),
    Rule(
        "classify-rate-limited",
        "a 429 is rate_limited and keeps the server's wait hint exactly in retry_after",
        "return Classification(Category.RATE_LIMITED, retry_after=parse_retry_after("
        "response.headers)) or the value your provider writes in its body",
    ),
    Rule(
        "classify-conflict",
        "a 408/409 answer is retried (transient or rate_limited)",
        "return None for 408/409 (core treats them as transient) instead of a final category",
    ),
    Rule(
        "classify-quota",
        "an out-of-credit answer is quota_exhausted after one attempt",
        "map your provider's quota/billing error to Category.QUOTA_EXHAUSTED",
    ),
    Rule(
        "classify-server",
        "a 5xx/overloaded answer is transient or degraded and retried"
        " up to the configured attempts",
        "map 5xx and 'overloaded' to Category.TRANSIENT or Category.DEGRADED",
    ),
    Rule(
        "classify-reset",
        "a reset connection is a retryable error, never a result",
        "let aiohttp's connection errors propagate from the connector; do not catch them",
    ),
    Rule(
        "classify-hang",
        "a server that never answers ends at the attempt timeout as degraded",
        "send through patchwire.http (the pipeline enforces the deadline); do not shield"
        " the request from cancellation",
    ),
    Rule(
        "classify-malformed",
        "a 200 whose body is not the provider's schema is an error (integration), never a result",
        "raise IntegrationError when a field you need is missing or has the wrong type",
    ),
    Rule(
        "classify-truncated",
        "a body cut short is an error, never a result",
        "read the whole body through patchwire.http and parse it; never return partial data",
    ),
    Rule(
        "classify-mixed",
        "under a mix of faults every call ends in a result or a classified PatchwireError",
        "let transport errors propagate (core classifies them) and raise PatchwireError"
        " subclasses for what you know; never raise BaseException subclasses",
    ),
    Rule(
        "stream-truncated",
        "a stream that ends before the provider's end marker is an error, never a short success",
        "remember whether the end marker ([DONE], message_stop, a finish reason) arrived and"
        " raise a retryable error (e.g. aiohttp.ClientPayloadError) when it did not",
    ),
    # --- faithfulness: the result says what the server said -----------------------------
    Rule(
        "faithful-text",
        "the result's text is the text the server sent",
        "join every content piece of the answer, in order, without trimming or rewriting",
    ),
    Rule(
        "faithful-finish",
        "the finish reason is the server's, in patchwire's words: 'length' for an answer"
        " cut at max_tokens, 'stop' for a complete one",
        "map the provider's finish/stop reason to patchwire.types.FINISH_REASONS",
    ),
    Rule(
        "faithful-request-id",
        "the result's request_id is the id the server sent",
        "read the provider's request id header (or body field) into request_id",
    ),
    Rule(
        "faithful-usage",
        "usage equals the token counts the server reported",
        "copy the provider's usage fields into Usage(input_tokens=..., output_tokens=...)",
    ),
    Rule(
        "result-types",
        "every result field has its documented type",
        "build results with the documented types: str text, int token counts,"
        " tuple[float, ...] vectors",
    ),
    Rule(
        "stream-final-usage",
        "the stream's last chunk carries the usage the server reported",
        "yield a final StreamChunk(text='', usage=..., finish_reason=...) after the last piece",
    ),
    Rule(
        "embed-order",
        "a batch of distinct inputs returns one vector per input, in input order",
        "order the provider's vectors by their index field before returning them",
    ),
    # --- rich calls ---------------------------------------------------------------------
    Rule(
        "tools-sent",
        "the tools a call offers reach the server in the provider's shape",
        "send request.features.tools (name, description, JSON Schema parameters) and"
        " tool_choice as your provider spells them",
    ),
    Rule(
        "faithful-tool-calls",
        "the result's tool calls are the server's, in order, with distinct ids and"
        " finish_reason 'tool_calls' (a stream's final chunk carries them too)",
        "return ToolCall.parsed(id, name, raw_arguments) parts in the provider's order and"
        " map the provider's tool-use stop reason to 'tool_calls'",
    ),
    Rule(
        "structured-sent",
        "an output schema reaches the server with the provider's native mechanism",
        "send request.features.output.schema (e.g. response_format json_schema) instead"
        " of dropping it",
    ),
    # --- hygiene --------------------------------------------------------------------------
    Rule(
        "no-hidden-retries",
        "the server sees exactly as many requests as the pipeline counted attempts",
        "send once per attempt; never loop or retry inside the connector",
    ),
    Rule(
        "same-request",
        "every attempt of a call sends the same request",
        "build the body afresh from the (immutable) request each attempt; never keep"
        " per-call state on the connector or change the caller's objects",
    ),
    Rule(
        "no-leaks",
        "no session, response, task or file descriptor outlives the hub",
        "use the hub's session (patchwire.http.send/open_stream) and release responses"
        " in a finally; close anything you open in Connector.aclose",
    ),
    Rule(
        "loop-not-blocked",
        "the event loop is never blocked longer than a small bound",
        "never call blocking functions (time.sleep, requests, sync file or socket I/O) in a"
        " connector; use await or asyncio.to_thread",
    ),
    Rule(
        "no-credential-leak",
        "the credential appears in no error field (details and chained"
        " exceptions included), log record, event, metric or repr",
        "never put headers, the key or the request's auth in messages or details; raise"
        " your own errors 'from None'",
    ),
    # --- lifecycle ------------------------------------------------------------------------
    Rule(
        "cancel",
        "a cancelled call raises CancelledError promptly and leaves no task behind",
        "do not catch CancelledError (or BaseException) in the connector; clean up in finally",
    ),
    Rule(
        "deadline",
        "a call's timeout ends it as degraded within the deadline",
        "do not shield work from cancellation or wait without the attempt's deadline",
    ),
    Rule(
        "stream-early-exit",
        "leaving a stream early releases its response",
        "iterate the response inside 'async with open_stream(...)' (or try/finally) so"
        " closing the generator releases it",
    ),
    Rule(
        "entry-point",
        "the plugin loads through its installed entry point in group"
        " 'patchwire' and registers the connector type",
        "declare [project.entry-points.patchwire] NAME = 'pkg.plugin:plugin' and reinstall",
    ),
    Rule(
        "contract-version",
        "the plugin states a contract version core accepts",
        'set PATCHWIRE_CONTRACT = "1.0" on the plugin object: the'
        " patchwire.hookspecs.CONTRACT_VERSION you built against, as a string",
    ),
    Rule(
        "claimed-works",
        "each claimed capability works end to end",
        "implement the operation, or remove the capability from Connector.capabilities",
    ),
    Rule(
        "unclaimed-refused",
        "an unclaimed capability is refused before anything is sent",
        "list only what you implement in capabilities; the pipeline refuses the rest",
    ),
)

RULES: dict[str, Rule] = {rule.id: rule for rule in _ALL}


class ConformanceFailure(AssertionError):
    """A connector broke a rule. ``rule`` is its id."""

    def __init__(self, rule: Rule, message: str) -> None:
        super().__init__(message)
        self.rule = rule


def connector_frame(
    connector: type | None, operation: str = "", error: BaseException | None = None
) -> str:
    """Where in the connector to look: the deepest frame of ``error`` (or its chain) inside
    the connector's package, else the operation's method."""
    if connector is None:
        return "(unknown connector)"
    package = connector.__module__.split(".")[0]
    for exc in _chain(error):
        for frame in reversed(traceback.extract_tb(exc.__traceback__)):
            if f"/{package}/" in frame.filename.replace("\\", "/"):
                return f"{frame.filename}:{frame.lineno} in {frame.name}"
    method = getattr(connector, operation, None) if operation else None
    target = method if method is not None else connector
    try:
        line = inspect.getsourcelines(target)[1]
        return f"{inspect.getsourcefile(target)}:{line} ({connector.__qualname__}.{operation})"
    except (OSError, TypeError):
        return f"{connector.__module__}.{connector.__qualname__}"


def _chain(error: BaseException | None) -> Iterator[BaseException]:
    seen: set[int] = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        yield error
        error = error.__cause__ or error.__context__


def require(
    ok: bool,
    rule_id: str,
    *,
    expected: object,
    observed: object,
    frame: str = "",
) -> None:
    """Fail with a message naming the rule, expected and observed values, frame and fix."""
    if ok:
        return
    rule = RULES[rule_id]
    lines = [
        f"conformance rule '{rule.id}' broken: {rule.statement}",
        f"  expected: {expected}",
        f"  observed: {observed}",
    ]
    if frame:
        lines.append(f"  connector: {frame}")
    lines.append(f"  fix: {rule.fix}")
    raise ConformanceFailure(rule, "\n".join(lines))
