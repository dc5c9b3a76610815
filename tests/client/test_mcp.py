"""TradeOffice's MCP server driven by the MCP SDK's own client: over streamable HTTP (each client's agent
token checked by the API) and over stdio (manage.py mcp_server as the MCP host would start it), against
a live TradeOffice."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import sys
import threading
from pathlib import Path

import httpx
import httpx2
import pytest
import uvicorn
from mcp import Client, StdioServerParameters
from mcp.client.streamable_http import streamable_http_client
from tradeoffice_client.mcp_server import http_app

from apps.decisions.models import Decision
from apps.memory.models import Experience
from tests.factories import DiscrepancyFactory, PerformanceMetricsFactory, PositionFactory, StrategyFactory

pytestmark = pytest.mark.django_db(transaction=True)

ROOT = Path(__file__).resolve().parents[2]
EVERY_ADDRESS = "0.0.0.0"  # noqa: S104 - only ever refused, or served on a loopback socket
TOOLS = {
    "recall_experiences",
    "write_decision",
    "write_experience",
    "current_positions",
    "performance_summary",
    "get_market_context",
    "set_market_context",
    "get_trading_context",
    "set_trading_context",
    "get_tickers",
    "set_tickers",
    "check_rate_limit",
}
DECISION = {
    "decision_layer": "tactical",
    "input_context": {"symbol": "BTC/USDT", "price": "45000.1"},
    "thought_process": "RSI oversold; similar setups bounced.",
    "decision": "Buy 0.012 BTC",
}


@pytest.fixture(scope="module")
def mcp_url(live_server):
    """The streamable-HTTP MCP server on a free loopback port, for the API of the live server."""
    sock = socket.create_server(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(http_app(api_url=live_server.url), log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    while not server.started:
        threading.Event().wait(0.02)
    yield f"http://127.0.0.1:{port}/mcp"
    server.should_exit = True
    thread.join(timeout=10)


def answer(result):
    """A tool's answer as the model reads it: the JSON of its text (or its error text)."""
    text = "".join(block.text for block in result.content if block.type == "text")
    return result.is_error, text


async def over_http(url: str, token: str, script):
    async with (
        httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}"}, timeout=30) as http,
        Client(streamable_http_client(url, http_client=http)) as client,
    ):
        return await script(client)


def test_the_tools_and_resources_over_streamable_http(mcp_url, agent, binance):
    strategy = StrategyFactory(name="rsi_mean_reversion", is_active=True, config={"rsi_period": 14})
    PerformanceMetricsFactory(strategy=strategy)
    PositionFactory(exchange=binance, symbol="ETH/USDT")
    DiscrepancyFactory(exchange=binance)

    async def script(client):
        out = {"tools": {t.name for t in (await client.list_tools()).tools}}
        call = client.call_tool
        out["decision"] = answer(await call("write_decision", {**DECISION, "id": "dec-mcp"}))
        out["bad"] = answer(await call("write_decision", {**DECISION, "decision_layer": "sideways"}))
        out["experience"] = answer(
            await call(
                "write_experience",
                {
                    "id": "exp-mcp",
                    "decision_id": "dec-mcp",
                    "symbol": "BTC/USDT",
                    "situation": "BTC oversold after a sharp drop, funding negative",
                    "decision": "Long 0.012 BTC",
                    "decision_reasoning": "Oversold bounces have worked.",
                    "outcome": "success",
                    "pnl": "22.79",
                    "tags": ["btc"],
                },
            )
        )
        out["recall"] = answer(await call("recall_experiences", {"text": "BTC oversold, funding negative"}))
        await call("set_market_context", {"symbol": "BTC/USDT", "context": {"trend": "down"}})
        out["context"] = answer(await call("get_market_context", {"symbol": "BTC/USDT"}))
        out["missing"] = answer(await call("get_market_context", {"symbol": "DOGE/USDT"}))
        await call("set_tickers", {"tickers": {"BTC/USDT": {"last": "45000.1"}}})
        out["tickers"] = answer(await call("get_tickers", {"symbols": ["BTC/USDT"]}))
        await call("set_trading_context", {"context": {"mode": "cautious"}})
        out["trading"] = answer(await call("get_trading_context", {}))
        limits = [
            answer(await call("check_rate_limit", {"exchange": "binance", "endpoint": "order", "limit": 1}))
            for _ in range(2)
        ]
        out["limits"] = limits
        out["positions"] = answer(await call("current_positions", {"exchange": "binance"}))
        out["performance"] = answer(
            await call("performance_summary", {"strategy_name": "rsi_mean_reversion"})
        )
        resources = await client.list_resources()
        out["resources"] = {str(r.uri) for r in resources.resources}
        out["strategy"] = (
            await client.read_resource("tradeoffice://strategies/active/rsi_mean_reversion")
        ).contents
        out["strategies"] = (await client.read_resource("tradeoffice://strategies/active")).contents
        out["open"] = (await client.read_resource("tradeoffice://reconciliation/discrepancies/open")).contents
        return out

    out = asyncio.run(over_http(mcp_url, agent.token, script))

    assert out["tools"] == TOOLS
    assert out["decision"][0] is False and json.loads(out["decision"][1])["id"] == "dec-mcp"
    assert Decision.objects.filter(pk="dec-mcp").count() == 1
    refused, text = out["bad"]
    assert refused is True
    assert json.loads(text[text.index("{") :])["details"]["decision_layer"]  # the API's field error
    assert Experience.objects.get(pk="exp-mcp").decision_ref_id == "dec-mcp"
    assert [h["experience"]["id"] for h in json.loads(out["recall"][1])["results"]] == ["exp-mcp"]
    assert json.loads(out["context"][1])["context"] == {"trend": "down"}
    assert out["missing"][0] is True and "not_found" in out["missing"][1]
    assert json.loads(out["tickers"][1])["tickers"]["BTC/USDT"]["last"] == "45000.1"
    assert json.loads(out["trading"][1])["context"] == {"mode": "cautious"}
    assert [json.loads(text)["allowed"] for _, text in out["limits"]] == [True, False]
    assert json.loads(out["positions"][1])["results"][0]["symbol"] == "ETH/USDT"
    assert json.loads(out["performance"][1])["periods"][0]["strategy_name"] == "rsi_mean_reversion"
    assert out["resources"] == {
        "tradeoffice://strategies/active",
        "tradeoffice://reconciliation/discrepancies/open",
    }
    assert json.loads(out["strategy"][0].text)["config"] == {"rsi_period": 14}
    assert [s["name"] for s in json.loads(out["strategies"][0].text)] == ["rsi_mean_reversion"]
    assert json.loads(out["open"][0].text)["count"] == 1


def test_streamable_http_refuses_a_client_without_an_agent_token(mcp_url, agent):
    hello = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "initialize",
        "params": {
            "protocolVersion": "2025-06-18",
            "capabilities": {},
            "clientInfo": {"name": "t", "version": "1"},
        },
    }
    headers = {"Accept": "application/json, text/event-stream"}
    for auth in ({}, {"Authorization": "Bearer not-a-token-of-any-agent"}):
        response = httpx.post(mcp_url, json=hello, headers={**headers, **auth}, timeout=10)
        assert response.status_code == 401
    with_token = httpx.post(
        mcp_url, json=hello, headers={**headers, "Authorization": f"Bearer {agent.token}"}
    )
    assert with_token.status_code == 200


def test_manage_py_mcp_server_over_stdio(live_server, agent):
    env = {
        **{k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "DATABASE_URL", "REDIS_URL")},
        "DJANGO_SETTINGS_MODULE": "tradeoffice.settings.test",
        "TRADEOFFICE_TOKEN": agent.token,
    }
    params = StdioServerParameters(
        command=sys.executable,
        args=["manage.py", "mcp_server", "--url", live_server.url],
        env=env,
        cwd=str(ROOT),
    )

    async def script():
        async with Client(params) as client:
            tools = {t.name for t in (await client.list_tools()).tools}
            written = answer(await client.call_tool("write_decision", {**DECISION, "id": "dec-stdio"}))
            return tools, written

    tools, (refused, text) = asyncio.run(script())
    assert tools == TOOLS
    assert refused is False and json.loads(text)["id"] == "dec-stdio"
    assert Decision.objects.filter(pk="dec-stdio").count() == 1


def test_listening_beyond_loopback_needs_the_allowed_hosts_and_refuses_the_others(live_server, agent):
    from django.core.management import CommandError, call_command

    with pytest.raises(CommandError, match="needs --allowed-host"):
        call_command(
            "mcp_server", "--transport", "streamable-http", "--host", EVERY_ADDRESS, "--url", live_server.url
        )

    app = http_app(api_url=live_server.url, host=EVERY_ADDRESS, allowed_hosts=["mcp.desk.example:8765"])
    sock = socket.create_server(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    while not server.started:
        threading.Event().wait(0.02)
    url = f"http://127.0.0.1:{sock.getsockname()[1]}/mcp"
    hello = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "initialize",
        "params": {
            "protocolVersion": "2025-06-18",
            "capabilities": {},
            "clientInfo": {"name": "t", "version": "1"},
        },
    }
    headers = {"Accept": "application/json, text/event-stream", "Authorization": f"Bearer {agent.token}"}
    try:
        rebound = httpx.post(url, json=hello, headers={**headers, "Host": "evil.example"}, timeout=10)
        named = httpx.post(url, json=hello, headers={**headers, "Host": "mcp.desk.example:8765"}, timeout=10)
    finally:
        server.should_exit = True
        thread.join(timeout=10)
    assert rebound.status_code == 421  # a name it was not told of: refused, whatever the token
    assert named.status_code == 200
