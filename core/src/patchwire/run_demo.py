"""The tool-loop part of ``patchwire demo``: a model that uses the hub's tools.

A simulated model (the OpenAI wire, with a fault mix) runs tool loops against three real
tool connectors: a web operation on a loopback site the demo starts (it fails one request
in three with a 503, and one operation always answers 500), a CLI command (a python
program that refuses some inputs) and, when ``mcp-server-time`` is installed, the MCP
reference server. Then three single calls show the request transforms: one overflows a
small model's context window and moves to a larger one, one sends a long history to a tiny
model whose route only trims (the oldest turns go), and one gets an answer that breaks its
schema and is repaired. The ledger counts every run and call as answered or failed with a
classified error; none is lost.
"""

from __future__ import annotations

import importlib.util
import sys
from collections import Counter
from typing import Any

from patchwire.errors import PatchwireError

__all__ = ["run_tool_demo"]

CITIES = ("Paris", "Oslo", "Lima", "Kyoto", "Accra", "Quito")
UPPER = "import sys; t = sys.argv[1]; sys.exit(3) if 'q' in t.lower() else print(t.upper())"
SCHEMA = {
    "type": "object",
    "properties": {"city": {"type": "string"}, "sky": {"type": "string"}},
    "required": ["city", "sky"],
    "additionalProperties": False,
}
WINDOWS = {"gpt-4o-mini-small": 200, "gpt-4o-mini-tiny": 400, "gpt-4o-mini": 128_000}


def _long_history() -> list[dict[str, str]]:
    """Eight earlier exchanges and the question: more than the tiny model's window, while
    the system message and the latest turns, which trimming keeps, fit in it."""
    earlier = [
        {"role": role, "content": f"{role} turn {i}: " + "detail " * 30}
        for i in range(8)
        for role in ("user", "assistant")
    ]
    question = {"role": "user", "content": "So which city had the clearest sky?"}
    return [{"role": "system", "content": "Be brief."}, *earlier, question]


def _site() -> Any:
    from aiohttp import web

    hits: Counter[str] = Counter()

    async def weather(request: web.Request) -> web.Response:
        hits["weather"] += 1
        if hits["weather"] % 3 == 0:  # an injected fault the web tool's retries absorb
            return web.json_response({"error": "busy"}, status=503)
        return web.json_response({"city": request.query.get("city", ""), "sky": "clear"})

    async def forecast(request: web.Request) -> web.Response:
        return web.json_response({"error": "forecast backend down"}, status=500)

    app = web.Application()
    app.router.add_get("/api/weather", weather)
    app.router.add_get("/api/forecast", forecast)
    return app


def _tools(site: str, with_time: bool) -> dict[str, Any]:
    tables: dict[str, Any] = {
        "web": {
            "type": "web",
            "base_url": site,
            "allow_private": True,  # the demo's own loopback site
            "timeout": 2,
            "retry": {"max_attempts": 3, "initial": 0.01, "cap": 0.05},
            "operations": {
                "weather": {"url": "/api/weather?city={city}", "description": "the sky in a city"},
                "forecast": {"url": "/api/forecast?city={city}", "description": "tomorrow's sky"},
            },
        },
        "cli": {
            "type": "cli",
            "timeout": 5,
            "retry": {"max_attempts": 1},
            "commands": {
                "upper": {
                    "argv": [sys.executable, "-c", UPPER, "{text}"],
                    "description": "capitals",
                }
            },
        },
    }
    if with_time:
        tables["time"] = {
            "type": "mcp",
            "command": sys.executable,
            "args": ["-m", "mcp_server_time"],
        }
    return tables


async def run_tool_demo(*, host: Any, seed: int, key_env: str, runs: int = 6) -> dict[str, Any]:
    """Run ``runs`` tool loops (and the fallback, trim and repair calls); the ledger and logs."""
    from patchwire.hub import Hub
    from patchwire.run import Run
    from patchwire.testing.loopback import serve_app
    from patchwire.testing.sim_faults import FaultMix
    from patchwire.testing.sim_steps import StepScript
    from patchwire.testing.simulator import Simulator

    with_time = importlib.util.find_spec("mcp_server_time") is not None
    clock_call = [("time_get_current_time", {"timezone": "Europe/Paris"})] if with_time else []
    script = StepScript([])
    faults = FaultMix(server_error=0.1, rate_limited=0.05)
    model_sim = Simulator(
        "openai",
        faults=faults,
        seed=seed,
        plugin_host=host,
        tool_script=script,
        context_windows=WINDOWS,
        break_schema=1,
    )
    outcomes: Counter[str] = Counter()
    lines: list[str] = []
    example = ""
    tool_calls: list[int] = []
    async with serve_app(_site()) as site, model_sim:
        config = {
            "connectors": {
                "llm": {
                    "type": "openai",
                    "base_url": model_sim.base_url,
                    "api_key": f"env:{key_env}",
                    "timeout": 5,
                    "retry": {"max_attempts": 4, "initial": 0.01, "cap": 0.1},
                    "cache": {"ttl": 0},
                    "context_windows": WINDOWS,
                },
                **_tools(site, with_time),
            },
            "routes": {
                "chat": {"targets": ["llm:gpt-4o-mini-small", "llm:gpt-4o-mini"]},
                # one target and trimming only: the overflow can only be met by dropping turns
                "short": {"targets": ["llm:gpt-4o-mini-tiny"], "on_context_overflow": ["trim"]},
            },
        }
        async with Hub.from_dict(config, source="<demo tools>", host=host, seed=seed) as hub:
            # Listed once: every run offers the same operations (a run given hub.tool(...)
            # handles would list them again at its start, through the tool's breaker).
            tools = [
                bound
                for name in ("web", "cli", "time")
                if name in config["connectors"]
                for bound in await hub.tool(name).as_tools()
            ]
            for number in range(runs):
                city = CITIES[(seed + number) % len(CITIES)]
                word = "quit" if number % 3 == 2 else city  # the CLI refuses words with a q
                script.steps = [
                    [("web_weather", {"city": city}), *clock_call],
                    [("cli_upper", {"text": word}), ("web_forecast", {"city": city})],
                ]
                script.restart()
                try:
                    run: Run = await hub.model("llm:gpt-4o-mini").run(
                        f"Run {number}: what is the sky like in {city}?", tools=tools, timeout=30
                    )
                except PatchwireError as err:
                    outcomes[f"failed:{err.category.value}"] += 1
                    lines.append(f"run {number}: failed [{err.category}] {err.message}")
                    continue
                outcomes["answered"] += 1
                tool_calls.append(run.tool_calls)
                errors = sum(o.result.is_error for s in run.steps for o in s.tools)
                lines.append(
                    f"run {number}: {len(run.steps)} steps, {run.tool_calls} tool calls"
                    f" ({errors} answered as errors), {run.usage.total_tokens} tokens"
                )
                example = example or run.step_log()
            script.steps = []
            calls: tuple[tuple[str, str, Any, dict[str, Any]], ...] = (
                ("overflow", "chat", "Describe every city: " + "and more " * 120, {}),
                ("trim", "short", _long_history(), {}),
                ("repair", "chat", "Paris as JSON", {"output": SCHEMA}),
            )
            for label, route, prompt, options in calls:
                try:
                    reply = await hub.model(route).complete(prompt, **options)
                except PatchwireError as err:
                    outcomes[f"failed:{err.category.value}"] += 1
                    lines.append(f"{label}: failed [{err.category}] {err.message}")
                    continue
                outcomes["answered"] += 1
                lines.append(
                    f"{label}: answered by {reply.model} after"
                    f" {', '.join(reply.transforms) or 'none'} ({reply.usage.input_tokens} tokens in)"
                )
            snapshot = hub.metrics()
            transforms = {f"{c}:{t}": n for (c, t), n in sorted(hub.transforms.counts.items())}
    submitted = runs + len(calls)
    answered = outcomes.pop("answered", 0)
    failed = {k.split(":", 1)[1]: v for k, v in outcomes.items()}
    ledger = {
        "submitted": submitted,
        "answered": answered,
        "failed": sum(failed.values()),
        "failed_by_category": failed,
        "lost": submitted - answered - sum(failed.values()),
    }
    summary = (
        f"tool runs: submitted {submitted} = answered {answered} + failed with a classified"
        f" error {ledger['failed']}; lost = {ledger['lost']}\n"
        f"tool calls per run: {tool_calls}; transforms: {transforms or 'none'}"
        + ("" if with_time else "\n(mcp-server-time is not installed: no MCP tool in these runs)")
        + "\n"
        + "\n".join(lines)
        + (f"\nstep log of the first answered run:\n{example}" if example else "")
    )
    return {
        "ledger": ledger,
        "tool_calls_per_run": tool_calls,
        "transforms": transforms,
        "table": snapshot.render_table(),
        "summary": summary,
        "metrics": snapshot.to_dict(),
    }
