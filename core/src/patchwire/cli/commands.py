"""Core's subcommands: plugins, doctor, call, embed, tool, stats (and simulate, demo)."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Callable, Sequence
from typing import Any

from patchwire.registry import CommandRegistrar

__all__ = ["register_core"]


def _config_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--config",
        metavar="PATH",
        help="configuration file (default: $PATCHWIRE_CONFIG, then ./patchwire.toml, then defaults)",
    )


def _json_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")


def _hub(args: argparse.Namespace) -> Any:
    from patchwire.hub import Hub

    return Hub.from_environment(args.config)


# --- plugins -----------------------------------------------------------------------------


def _plugins_configure(p: argparse.ArgumentParser) -> None:
    _json_arg(p)


def _plugins_run(args: argparse.Namespace) -> int:
    from patchwire.plugins import default_host

    host = default_host()
    infos = host.describe()
    regs = host.registries
    provides: dict[str, list[str]] = {}
    for (kind, name), owner in sorted(regs.owners.items()):
        provides.setdefault(owner, []).append(f"{kind} {name}")
    caps: dict[str, list[str]] = {
        t: sorted(c.value for c in cls.capabilities) for t, cls in regs.connectors.items()
    }
    if args.json:
        out = []
        for info in infos:
            d = info.to_dict()
            d["provides"] = provides.get(info.name, [])
            d["connectors"] = {
                t: {
                    "capabilities": caps[t],
                    "version": regs.connectors[t].version,
                    "api_versions": list(regs.connectors[t].api_versions),
                    "capabilities_by_api_version": _by_version(regs.connectors[t]),
                }
                for (kind, t), owner in regs.owners.items()
                if owner == info.name and kind == "connector type"
            }
            out.append(d)
        print(json.dumps(out, indent=2))
        return 0
    for info in infos:
        origin = "built-in" if info.builtin else info.distribution
        status = "ERROR" if info.error else "ok"
        print(f"{info.name:<28} {origin} {info.version}  [{status}]")
        if info.hooks:
            print(f"    hooks: {', '.join(info.hooks)}")
        for item in provides.get(info.name, []):
            extra = ""
            if item.startswith("connector type "):
                t = item.removeprefix("connector type ")
                cls = regs.connectors[t]
                extra = f" v{cls.version} ({', '.join(caps[t]) or 'no capabilities'})"
                if cls.api_versions:
                    extra += f" api: {', '.join(cls.api_versions)}"
            print(f"    provides: {item}{extra}")
            if item.startswith("connector type "):
                cls = regs.connectors[item.removeprefix("connector type ")]
                for version, listed in _by_version(cls).items():
                    if listed["capabilities"] != sorted(c.value for c in cls.capabilities):
                        print(f"      api {version}: {', '.join(listed['capabilities'])}")
        if info.error:
            print(f"    error: {info.error}")
    return 1 if any(i.error for i in infos) else 0


def _by_version(cls: Any) -> dict[str, dict[str, list[str]]]:
    """Capabilities and sendable sampling knobs under each API version a connector names."""
    return {
        version: {
            "capabilities": sorted(c.value for c in cls.capabilities_for(version)),
            "sampling_params": sorted(cls.sampling_params_for(version)),
        }
        for version in cls.api_versions
    }


# --- doctor ------------------------------------------------------------------------------


def _doctor_configure(p: argparse.ArgumentParser) -> None:
    _config_arg(p)
    _json_arg(p)


def _references(value: Any, schemes: Any) -> list[str]:
    from patchwire.secrets import is_reference

    if isinstance(value, str):
        return [value] if is_reference(value, schemes) else []
    if isinstance(value, dict):
        return [r for v in value.values() for r in _references(v, schemes)]
    return []


def _doctor_run(args: argparse.Namespace) -> int:
    from patchwire.errors import PatchwireError

    hub = _hub(args)
    report: dict[str, Any] = {
        "config": hub.config.source,
        "connectors": {},
        "backends": {},
        "routes": {},
        "warnings": list(hub.config_warnings),
    }
    problems = 0

    def resolve(refs: list[str]) -> dict[str, str]:
        nonlocal problems
        states: dict[str, str] = {}
        for ref in refs:
            try:
                hub.secrets.resolve(ref)
                states[ref] = "found"
            except PatchwireError as exc:
                states[ref] = f"missing: {exc.message}"
                problems += 1
        return states

    async def check() -> None:
        nonlocal problems
        async with hub:
            for name, cfg in sorted(hub.config.connectors.items()):
                entry: dict[str, Any] = {"type": cfg.type}
                refs = [cfg.api_key] if cfg.api_key else []
                refs += _references(dict(cfg.auth or {}), hub.secrets.schemes)
                refs += _references(dict(cfg.tls or {}), hub.secrets.schemes)
                refs += _references(dict(cfg.settings), hub.secrets.schemes)
                entry["credentials"] = resolve(refs)
                try:
                    runtime = hub.runtime(name)
                    entry["auth"] = dict(runtime.auth.describe())
                    # What tokens will ask for, per connector and per declared operation.
                    entry["scopes"] = {
                        k.removeprefix("scopes[").rstrip("]") if k != "scopes" else "*": v
                        for k, v in entry["auth"].items()
                        if k == "scopes" or k.startswith("scopes[")
                    }
                    check_token = getattr(runtime.auth, "check", None)
                    if check_token is not None:
                        entry["auth"]["token"] = await check_token()
                except PatchwireError as exc:
                    entry["error"] = exc.message
                    problems += 1
                report["connectors"][name] = entry
            for name, backend in sorted(hub.config.backends.items()):
                refs = _references(dict(backend.settings), hub.secrets.schemes)
                report["backends"][name] = {"type": backend.type, "credentials": resolve(refs)}
            for name, route in sorted(hub.config.routes.items()):
                report["routes"][name] = list(route.targets)

    asyncio.run(check())
    text = hub.redactor.redact(json.dumps(report, indent=2))
    if args.json:
        print(text)
    else:
        print(f"configuration: {report['config']}")
        for name, entry in report["connectors"].items():
            print(f"[{name}] type={entry['type']}")
            auth = entry.get("auth")
            if auth:
                print("    auth: " + ", ".join(f"{k}={v}" for k, v in auth.items()))
            for operation, scopes in entry.get("scopes", {}).items():
                print(f"    scopes {operation}: {scopes}")
            for ref, state in entry["credentials"].items():
                print(f"    {ref}: {state}")
            if "error" in entry:
                print(f"    error: {entry['error']}")
        for name, entry in report["backends"].items():
            print(f"[backends.{name}] type={entry['type']}")
            for ref, state in entry["credentials"].items():
                print(f"    {ref}: {state}")
        for name, targets in report["routes"].items():
            print(f"route {name}: {' -> '.join(targets)}")
        for warning in report["warnings"]:
            print(f"warning: {warning}")
        print("ok" if not problems else f"{problems} problem(s)")
    return 0 if not problems else 1


# --- call / embed / tool --------------------------------------------------------------------


def _call_configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("model", help='"connector:model" or a route name')
    p.add_argument("prompt", help="the prompt ('-' reads standard input)")
    p.add_argument("--max-tokens", type=int, default=None)
    p.add_argument("--temperature", type=float, default=None)
    p.add_argument("--system", default=None, help="a system message")
    p.add_argument("--no-stream", action="store_true", help="wait for the whole answer")
    _config_arg(p)
    _json_arg(p)


def _call_run(args: argparse.Namespace) -> int:
    from patchwire.types import Message

    prompt = sys.stdin.read() if args.prompt == "-" else args.prompt
    messages = ([Message("system", args.system)] if args.system else []) + [Message("user", prompt)]
    params = {
        k: v
        for k, v in (("max_tokens", args.max_tokens), ("temperature", args.temperature))
        if v is not None
    }
    hub = _hub(args)

    async def run() -> int:
        async with hub:
            model = hub.model(args.model)
            if args.no_stream or args.json:
                reply = await model.complete(messages, **params)
                if args.json:
                    print(
                        json.dumps(
                            {
                                "text": reply.text,
                                "connector": reply.connector,
                                "model": reply.model,
                                "input_tokens": reply.usage.input_tokens,
                                "output_tokens": reply.usage.output_tokens,
                                "cost": reply.cost,
                                "attempts": reply.attempts,
                                "latency": reply.latency,
                                "request_id": reply.request_id,
                                "cached": reply.cached,
                            },
                            indent=2,
                        )
                    )
                else:
                    print(reply.text)
                return 0
            async for chunk in model.stream(messages, **params):
                sys.stdout.write(chunk.text)
                sys.stdout.flush()
            sys.stdout.write("\n")
            return 0

    return asyncio.run(run())


def _embed_configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("model", help='"connector:model" or a route name')
    p.add_argument("texts", nargs="+", help="texts to embed")
    _config_arg(p)
    _json_arg(p)


def _embed_run(args: argparse.Namespace) -> int:
    hub = _hub(args)

    async def run() -> int:
        async with hub:
            vectors = await hub.model(args.model).embed_many(args.texts)
            if args.json:
                print(
                    json.dumps(
                        [
                            {"text": t, "vector": list(v.vector)}
                            for t, v in zip(args.texts, vectors, strict=True)
                        ]
                    )
                )
            else:
                for text, v in zip(args.texts, vectors, strict=True):
                    head = ", ".join(f"{x:.4f}" for x in v.vector[:4])
                    print(f"{text[:40]!r}: dim={len(v.vector)} [{head}, ...]")
            return 0

    return asyncio.run(run())


def _tool_configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("name", help="a configured tool connector")
    p.add_argument("operation", nargs="?", help="the operation or tool to call")
    p.add_argument(
        "--arg",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a string argument, passed as written; repeatable",
    )
    p.add_argument(
        "--arg-json",
        action="append",
        default=[],
        metavar="KEY=JSON",
        help="an argument whose VALUE is JSON (a number, list, object, true...); repeatable",
    )
    p.add_argument(
        "--list",
        action="store_true",
        help="list the operations the tool offers, with input schemas",
    )
    _config_arg(p)
    _json_arg(p)


def _parse_args(strings: Sequence[str], as_json: Sequence[str] = ()) -> dict[str, Any]:
    """``--arg`` values stay strings (a value that looks like JSON is still text);
    ``--arg-json`` values are parsed. Errors name the key, never the value."""
    out: dict[str, Any] = {}
    for option, items in (("--arg", strings), ("--arg-json", as_json)):
        for number, item in enumerate(items, 1):
            key, sep, raw = item.partition("=")
            if not sep or not key:
                raise SystemExit(
                    f"patchwire tool: {option} #{number} must be KEY=VALUE (no '=' found)"
                )
            if key in out:
                raise SystemExit(f"patchwire tool: argument {key!r} is given more than once")
            if option == "--arg":
                out[key] = raw
                continue
            try:
                out[key] = json.loads(raw)
            except ValueError as exc:
                raise SystemExit(
                    f"patchwire tool: --arg-json {key}=... is not valid JSON"
                    f" ({getattr(exc, 'msg', 'parse error')}); use --arg for a string"
                ) from None
    return out


def _tool_run(args: argparse.Namespace) -> int:
    # Before the hub starts: a malformed argument stops here with nothing started.
    arguments = _parse_args(args.arg, args.arg_json)
    hub = _hub(args)

    async def run() -> int:
        async with hub:
            tool = hub.tool(args.name)
            if args.list or not args.operation:
                infos = await tool.list()
                if args.json:
                    print(
                        json.dumps(
                            [
                                {
                                    "name": i.name,
                                    "description": i.description,
                                    "input_schema": i.input_schema,
                                }
                                for i in infos
                            ],
                            indent=2,
                        )
                    )
                else:
                    for info in infos:
                        print(f"{info.name}: {info.description}")
                        if info.input_schema:
                            print("    input: " + json.dumps(info.input_schema))
                return 0
            result = await tool.call(args.operation, **arguments)
            if args.json:
                print(
                    json.dumps(
                        {
                            "output": result.output,
                            "text": result.text,
                            "metadata": dict(result.metadata),
                        },
                        indent=2,
                        default=str,
                    )
                )
            else:
                print(
                    result.text if result.text else json.dumps(result.output, indent=2, default=str)
                )
            return 0

    return asyncio.run(run())


def _lazy(module: str, attr: str) -> Callable[[Any], Any]:
    def call(arg: Any) -> Any:
        import importlib

        return getattr(importlib.import_module(module), attr)(arg)

    return call


def register_core(cli: CommandRegistrar) -> None:
    cli.add(
        "plugins",
        "list discovered plugins: versions, hooks, what they provide, load errors",
        _plugins_configure,
        _plugins_run,
    )
    cli.add(
        "doctor",
        "check configuration and credential references (values are never printed)",
        _doctor_configure,
        _doctor_run,
    )
    cli.add("call", "send a prompt to a model and stream the answer", _call_configure, _call_run)
    cli.add("embed", "embed texts with a model", _embed_configure, _embed_run)
    cli.add("tool", "call a configured tool, or list its operations", _tool_configure, _tool_run)
    cli.add(
        "demo",
        "run a mixed workload against the built-in simulator (offline, no keys)",
        _lazy("patchwire.demo", "configure"),
        _lazy("patchwire.demo", "run"),
    )
    cli.add(
        "simulate",
        "run a provider simulator on loopback, for testing applications offline",
        _lazy("patchwire.cli.simulate", "configure"),
        _lazy("patchwire.cli.simulate", "run"),
    )
    cli.add(
        "prices",
        "show the price table in force and where each entry came from (plugin, configuration)",
        _lazy("patchwire.cli.prices", "configure"),
        _lazy("patchwire.cli.prices", "run"),
    )
    cli.add(
        "stats",
        "show the metrics of a running hub (see Hub.serve_metrics)",
        _lazy("patchwire.cli.stats", "configure"),
        _lazy("patchwire.cli.stats", "run"),
    )
