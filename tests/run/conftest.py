"""A hub for tool-loop integration tests: one provider simulator and the real web, CLI and
MCP connectors (a loopback site, python programs, the reference ``mcp-server-time``)."""

from __future__ import annotations

import importlib.util
import os
import sys
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import pytest
from aiohttp import web
from patchwire.hub import Hub
from patchwire.testing.loopback import serve_app
from patchwire.testing.simulator import Simulator

PROVIDERS = ("openai", "anthropic", "gemini")
#: per provider, a model and one with a larger window stated by the connector (the tests
#: give the first a small window on the simulator; no test states windows in config)
WINDOW_MODELS = {
    "openai": ("gpt-4o-mini", "gpt-4.1"),
    "anthropic": ("claude-haiku-4-5", "claude-sonnet-4-6"),
    "gemini": ("gemini-2.0-flash", "gemini-2.5-pro"),
}
#: a program that sleeps as long as it is told, printing its pid first
SLEEPER = "import os, sys, time; print(os.getpid(), flush=True); time.sleep(float(sys.argv[1]))"
# Unique to this test process: a second suite on the machine runs sleepers of its own,
# which the "leaves no process" checks must not mistake for this suite's leftovers.
SLEEPER_MARK = f"patchwire-run-sleeper-{os.getpid()}"

has_time_server = importlib.util.find_spec("mcp_server_time") is not None


def site_app() -> web.Application:
    routes = web.RouteTableDef()

    @routes.get("/api/weather")
    async def weather(request: web.Request) -> web.Response:
        return web.json_response({"city": request.query.get("city", ""), "sky": "clear"})

    @routes.get("/api/secret")
    async def secret(request: web.Request) -> web.Response:
        return web.json_response({"error": "bad credentials"}, status=401)

    app = web.Application()
    app.add_routes(routes)
    return app


def tool_tables(site: str) -> dict[str, Any]:
    python = [sys.executable, "-c"]
    tables: dict[str, Any] = {
        "web": {
            "type": "web",
            "base_url": site,
            "allow_private": True,
            "timeout": 5,
            "retry": {"max_attempts": 1},
            "operations": {
                "weather": {"url": "/api/weather?city={city}", "description": "the sky in a city"},
                "secret": {"url": "/api/secret", "description": "a page behind a login"},
            },
        },
        "cli": {
            "type": "cli",
            "timeout": 5,
            "retry": {"max_attempts": 1},
            "kill_grace": 0.2,
            "commands": {
                "upper": {
                    "argv": [*python, "import sys; print(sys.argv[1].upper())", "{text}"],
                    "description": "the text in capitals",
                },
                "sleep": {
                    "argv": [*python, SLEEPER, "{seconds}", SLEEPER_MARK],
                    "description": "waits",
                    "timeout": 0.5,
                },
                "nap": {
                    "argv": [*python, SLEEPER, "{seconds}", SLEEPER_MARK],
                    "description": "waits longer",
                    "timeout": 30,
                },
            },
        },
    }
    if has_time_server:
        tables["time"] = {
            "type": "mcp",
            "command": sys.executable,
            "args": ["-m", "mcp_server_time"],
            "retry": {"max_attempts": 1},
        }
    return tables


@pytest.fixture
def sim_key(monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("PW_RUN_SIM_KEY", "sim-key-0000")
    return "env:PW_RUN_SIM_KEY"


RunHub = Callable[..., Any]


@pytest.fixture
def run_hub(sim_key: str) -> RunHub:
    """``async with run_hub(provider, simulator=..., connector=..., routes=...) as (hub, sim)``."""

    @asynccontextmanager
    async def make(
        provider: str,
        *,
        simulator: dict[str, Any] | None = None,
        connector: dict[str, Any] | None = None,
        routes: dict[str, Any] | None = None,
    ) -> AsyncIterator[tuple[Hub, Simulator]]:
        async with (
            serve_app(site_app()) as site,
            Simulator(provider, **(simulator or {})) as sim,
        ):
            model = {
                "type": provider,
                "base_url": sim.base_url,
                "api_key": sim_key,
                "retry": {"max_attempts": 1},
                "cache": {"ttl": 0},
                **(connector or {}),
            }
            config = {
                "connectors": {"llm": model, **tool_tables(site)},
                "routes": routes or {},
            }
            async with Hub.from_dict(config) as hub:
                yield hub, sim

    return make
