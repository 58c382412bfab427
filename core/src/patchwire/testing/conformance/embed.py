"""``embed``: one vector per input, in input order, each the server's vector for it."""

from __future__ import annotations

import math
from typing import Any, ClassVar

from patchwire.hub import Hub
from patchwire.plugins import PluginHost
from patchwire.testing.conformance.operation import OperationChecks
from patchwire.testing.conformance.rules import require
from patchwire.types import Embedding

__all__ = ["EmbedConformance"]

INPUTS = ("alpha", "beta gamma", "delta epsilon zeta", "eta")


class EmbedConformance(OperationChecks):
    """Subclass with ``plugin``, ``wire`` and ``model`` (an embedding model) set."""

    operation = "embed"
    #: relative tolerance for vectors a wire sends with fewer digits (float32, base64)
    VECTOR_TOLERANCE: ClassVar[float] = 1e-6

    async def invoke(self, hub: Hub, **options: Any) -> Any:
        return await hub.model(self.model_ref()).embed("conformance", **options)

    async def test_batch_returns_one_vector_per_input_in_order(
        self, conformance_host: PluginHost
    ) -> None:
        async with self.run(conformance_host) as run:
            got = await run.hub.model(self.model_ref()).embed_many(list(INPUTS))
            frame = run.frame()
            require(
                all(
                    isinstance(e, Embedding)
                    and isinstance(e.vector, tuple)
                    and all(type(x) is float for x in e.vector)
                    for e in got
                ),
                "result-types",
                expected="Embedding values whose vector is a tuple of float",
                observed=repr([type(getattr(e, "vector", e)).__name__ for e in got]),
                frame=frame,
            )
            sent: dict[str, tuple[float, ...]] = {}
            for record in run.records:
                if record.reply is not None and record.request is not None:
                    sent.update(zip(record.request.inputs, record.reply.vectors, strict=False))
            wrong = [
                text
                for text, emb in zip(INPUTS, got, strict=False)
                if text not in sent or not self._close(emb.vector, sent[text])
            ]
            require(
                len(got) == len(INPUTS) and not wrong and len(run.records) < len(INPUTS),
                "embed-order",
                expected=f"{len(INPUTS)} vectors, each the server's vector for its input,"
                " from batched requests",
                observed=f"{len(got)} vectors from {len(run.records)} request(s);"
                f" mismatched for {wrong}",
                frame=frame,
            )

    def _close(self, a: tuple[float, ...], b: tuple[float, ...]) -> bool:
        return len(a) == len(b) and all(
            math.isclose(x, y, rel_tol=self.VECTOR_TOLERANCE, abs_tol=1e-9)
            for x, y in zip(a, b, strict=True)
        )
