"""A model and two tools behind one hub: the orchestration code never learns which is which.

Runs offline: the OpenAI simulator stands in for the model provider, `jq` is the
command-line tool, and a small local web page stands in for a site without an API.

    .venv/bin/python examples/model_and_tool.py
"""

from __future__ import annotations

import asyncio
import json
import os

from aiohttp import web
from patchwire import Hub
from patchwire.testing.simulator import Simulator

ORDERS = {"orders": [{"id": 1, "total": 12.5}, {"id": 2, "total": 30.0}, {"id": 3, "total": 7.25}]}
PAGE = "<html><head><title>Shop status</title></head><body><h1 class='status'>All systems normal</h1></body></html>"


async def local_site() -> tuple[web.AppRunner, str]:
    async def status(request: web.Request) -> web.Response:
        return web.Response(text=PAGE, content_type="text/html")

    async def robots(request: web.Request) -> web.Response:
        return web.Response(text="User-agent: *\nAllow: /\n")

    app = web.Application()
    app.router.add_get("/status", status)
    app.router.add_get("/robots.txt", robots)
    runner = web.AppRunner(app, shutdown_timeout=0.1)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    return runner, f"http://127.0.0.1:{port}"


async def main() -> None:
    os.environ.setdefault("EXAMPLE_OPENAI_KEY", "sk-example-not-real")
    runner, site = await local_site()
    async with Simulator("openai", seed=1) as sim:
        config = {
            "connectors": {
                "llm": {
                    "type": "openai",
                    "base_url": sim.base_url,
                    "api_key": "env:EXAMPLE_OPENAI_KEY",
                },
                "data": {
                    "type": "cli",
                    "commands": {
                        "query": {
                            "argv": ["jq", "-c", "{filter}"],
                            "stdin": "document",
                            "output": "json",
                        }
                    },
                },
                "shop": {
                    "type": "web",
                    "allow_private": True,  # the example site is on loopback
                    "operations": {
                        "status": {
                            "url": f"{site}/status",
                            "kind": "page",
                            "select": {"status": "h1.status"},
                        }
                    },
                },
            }
        }
        async with Hub.from_dict(config) as hub:
            # The application sees three callables with one error model and one metrics view.
            totals = await hub.tool("data").call(
                "query", filter="[.orders[].total] | add", document=json.dumps(ORDERS)
            )
            status = await hub.tool("shop").call("status")
            reply = await hub.model("llm:gpt-4o-mini").complete(
                f"Orders total {totals.output}; site says {status.output['selected']['status']!r}."
                " Write a one-line report.",
                max_tokens=40,
            )
            print(f"jq computed total: {totals.output}")
            print(f"web page says:     {status.output['selected']['status']}")
            print(f"model reported:    {reply.text}")
            print()
            print(hub.metrics().render_table())
    await runner.cleanup()


if __name__ == "__main__":
    asyncio.run(main())
