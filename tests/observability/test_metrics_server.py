from __future__ import annotations

import argparse
import asyncio
import json
import socket

import aiohttp
import pytest
from aiohttp import web
from patchwire.cli import stats
from patchwire.clock import VirtualClock
from patchwire.errors import IntegrationError
from patchwire.events import Event, EventKind
from patchwire.metrics import MetricsAggregator, MetricsSnapshot
from patchwire.metrics_server import fetch_metrics, metrics_json_url, serve_metrics


def busy_aggregator() -> MetricsAggregator:
    aggregator = MetricsAggregator(VirtualClock())
    aggregator(Event(EventKind.CALL_STARTED, "openai", "gpt-4o-mini"))
    aggregator(
        Event(
            EventKind.CALL_SUCCEEDED,
            "openai",
            "gpt-4o-mini",
            duration=0.3,
            input_tokens=100,
            output_tokens=20,
            cost=0.0002,
        )
    )
    aggregator(Event(EventKind.CACHE_HIT, "openai", "gpt-4o-mini"))
    return aggregator


def stats_args(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="patchwire stats")
    stats.configure(parser)
    return parser.parse_args(list(argv))


def free_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("http://127.0.0.1:9464", "http://127.0.0.1:9464/metrics.json"),
        ("http://127.0.0.1:9464/", "http://127.0.0.1:9464/metrics.json"),
        ("http://h:1/metrics", "http://h:1/metrics.json"),
        ("http://h:1/metrics.json", "http://h:1/metrics.json"),
        ("http://h:1/metrics.txt", "http://h:1/metrics.json"),
        ("http://h:1/app/", "http://h:1/app/metrics.json"),
    ],
)
def test_metrics_json_url_accepts_a_base_url_or_either_endpoint(url: str, expected: str) -> None:
    assert metrics_json_url(url) == expected


def test_stats_defaults_to_the_conventional_local_port() -> None:
    args = stats_args()
    assert args.url == "http://127.0.0.1:9464"
    assert args.json is False


@pytest.mark.integration
async def test_server_serves_json_and_the_table_over_loopback_http() -> None:
    """Real sockets on 127.0.0.1: the endpoint is only useful if it works over HTTP."""
    aggregator = busy_aggregator()
    async with await serve_metrics(aggregator.snapshot) as server:
        assert server.port > 0
        data = await fetch_metrics(server.url)
        assert MetricsSnapshot.from_dict(data) == aggregator.snapshot()
        async with (
            aiohttp.ClientSession() as session,
            session.get(f"{server.url}/metrics") as response,
        ):
            assert response.status == 200
            assert response.content_type == "text/plain"
            assert await response.text() == aggregator.snapshot().render_table()
        # Each request takes a fresh snapshot.
        aggregator(Event(EventKind.CALL_FAILED, "openai", "gpt-4o-mini", category="transient"))
        again = MetricsSnapshot.from_dict(await fetch_metrics(server.url + "/metrics"))
        assert again.for_model("openai", "gpt-4o-mini").failed == 1


@pytest.mark.integration
async def test_stats_command_prints_the_table_and_the_json(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Real loopback server; the command runs its own event loop, so it runs in a thread."""
    aggregator = busy_aggregator()
    async with await serve_metrics(aggregator.snapshot) as server:
        assert await asyncio.to_thread(stats.run, stats_args("--url", server.url)) == 0
        table = capsys.readouterr().out
        assert table == aggregator.snapshot().render_table()
        assert "openai:gpt-4o-mini" in table

        assert await asyncio.to_thread(stats.run, stats_args("--url", server.url, "--json")) == 0
        printed = json.loads(capsys.readouterr().out)
        assert printed == aggregator.snapshot().to_dict()


@pytest.mark.integration
def test_stats_command_exits_2_with_one_clear_line_when_nothing_listens(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Needs a real refused connection on loopback."""
    url = f"http://127.0.0.1:{free_port()}"
    assert stats.run(stats_args("--url", url)) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.splitlines()
    assert len(lines) == 1
    assert lines[0].startswith(f"patchwire stats: nothing is listening at {url}")


@pytest.mark.integration
async def test_something_that_is_not_a_metrics_server_is_reported_as_such(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A real loopback server answering 404, HTML and foreign JSON."""

    async def html(request: web.Request) -> web.Response:
        return web.Response(text="<html>hello</html>", content_type="text/html")

    async def foreign(request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    app = web.Application()
    app.router.add_get("/html/metrics.json", html)
    app.router.add_get("/foreign/metrics.json", foreign)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    base = f"http://127.0.0.1:{runner.addresses[0][1]}"
    try:
        with pytest.raises(IntegrationError, match="HTTP 404"):
            await fetch_metrics(base + "/missing")
        with pytest.raises(IntegrationError, match="JSON"):
            await fetch_metrics(base + "/html")
        with pytest.raises(IntegrationError, match="not a metrics snapshot"):
            await fetch_metrics(base + "/foreign")
        assert await asyncio.to_thread(stats.run, stats_args("--url", base + "/html")) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1
        assert err.startswith("patchwire stats: ")
    finally:
        await runner.cleanup()


@pytest.mark.parametrize("url", ["not a url", "ftp://127.0.0.1/metrics", "http://"])
def test_stats_command_refuses_a_url_that_is_not_http(
    url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert stats.run(stats_args("--url", url)) == 2
    assert capsys.readouterr().err == f"patchwire stats: not an http(s) URL: {url!r}\n"
