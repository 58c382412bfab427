"""One call's path (DESIGN §5), the same for a completion, a stream, an embedding and a
tool call, with each layer in the module named for it:

    metrics ─ deadline ─ cache (single-flight) ─ batching (embeddings)     calls, cached, record
      ─ route/fallback ─ transform                                           route
      ─ retry ─ budget ─ circuit breaker ─ rate limiter ─ auth ─ attempt timeout
                                                                 attempts (loop), stages
      ─ connector                                                            operations

Streams keep their permits until the last chunk (streaming). It is written as plain calls
rather than a chain of middleware objects: each policy is an object from its own module
(retry, budget, breaker, limiter, cache, batching) and the pipeline only sequences them,
which keeps the per-call overhead to a handful of function calls.
"""

from patchwire.pipeline.calls import Pipeline
from patchwire.pipeline.target import Target

__all__ = ["Pipeline", "Target"]
