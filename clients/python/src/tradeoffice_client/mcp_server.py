"""TradeOffice's MCP server: an LLM agent's tools (recall, decisions, experiences, short-term memory,
positions, performance) and resources (the active strategy, open discrepancies) over stdio or
streamable HTTP.

It is a client of the TradeOffice API like any agent, holding no database connection of its own: every
tool call is an API request made with the agent's token, so authentication, attribution (agent_writes),
validation and Idempotency-Keys are the API's own. Over stdio the token comes from TRADEOFFICE_TOKEN;
over HTTP each MCP client sends its own agent token as `Authorization: Bearer ...`, checked against the
API before any tool runs.

    tradeoffice-mcp                                          # stdio, TRADEOFFICE_URL and TRADEOFFICE_TOKEN
    tradeoffice-mcp --transport streamable-http --port 8765  # http://127.0.0.1:8765/mcp
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import os
import sys
import time
from collections.abc import Awaitable
from typing import Any

import anyio
from mcp.server.auth.middleware.auth_context import get_access_token
from mcp.server.auth.provider import AccessToken
from mcp.server.auth.settings import AuthSettings
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ResourceError, ToolError
from mcp.server.transport_security import TransportSecuritySettings
from pydantic import AnyHttpUrl

from ._http import NO_RETRY, RetryPolicy, api_base
from .client import AsyncTradeOffice
from .errors import ApiError, AuthenticationError, TradeOfficeError, Unreachable

logger = logging.getLogger("tradeoffice_client.mcp")

SERVER_NAME = "tradeoffice"
DEFAULT_API_URL = "http://127.0.0.1:8000"
DEFAULT_PORT = 8765
# A model waits on each call: a short wait for a busy API, then its error to read.
MCP_RETRY = RetryPolicy(retries=2, max_retry_after=10.0)
TOKEN_CHECK_TTL = 60.0  # seconds a verified HTTP token is trusted before the API is asked again
INSTRUCTIONS = (
    "TradeOffice keeps this trading agent's record and memory. Before deciding, recall similar "
    "experiences and read the market context; record each decision (write_decision) before acting on "
    "it, and an experience (write_experience) once its outcome is known. Amounts are decimal strings "
    "('45000.1'), never floats. A refused call returns the API's error with the fields at fault."
)


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class AgentTokens:
    """Streamable HTTP: an MCP client's bearer token is an agent token, accepted when the API accepts it."""

    def __init__(self, api_url: str, *, ttl: float = TOKEN_CHECK_TTL) -> None:
        self.api_url = api_url
        self.ttl = ttl
        self._verified: dict[str, float] = {}

    async def verify_token(self, token: str) -> AccessToken | None:
        digest = _digest(token)
        if self._verified.get(digest, 0.0) < time.monotonic():
            try:
                async with AsyncTradeOffice(self.api_url, token, retry=NO_RETRY) as api:
                    await api.exchanges.list(page_size=1)
            except AuthenticationError:
                return None
            except (TradeOfficeError, ValueError) as exc:
                logger.warning("Could not check an MCP client's token with TradeOffice: %s", exc)
                return None
            self._verified[digest] = time.monotonic() + self.ttl
        return AccessToken(token=token, client_id=f"agent-{digest[:16]}", scopes=[])


class _Clients:
    """One API client per agent token (over HTTP several agents may share the server)."""

    def __init__(self, api_url: str, token: str | None) -> None:
        self.api_url = api_url
        self.token = token
        self._by_digest: dict[str, AsyncTradeOffice] = {}

    def for_request(self, ctx: Context | None) -> AsyncTradeOffice:
        access = get_access_token()
        token = access.token if access is not None else None
        if token is None and ctx is not None:
            try:
                header = (ctx.headers or {}).get("authorization", "")
            except ValueError:
                header = ""
            if header.lower().startswith("bearer "):
                token = header[7:].strip()
        token = token or self.token
        if not token:
            raise ToolError("No agent token: set TRADEOFFICE_TOKEN, or send 'Authorization: Bearer <token>'.")
        digest = _digest(token)
        client = self._by_digest.get(digest)
        if client is None:
            client = self._by_digest[digest] = AsyncTradeOffice(self.api_url, token, retry=MCP_RETRY)
        return client


def _refusal(exc: ApiError) -> str:
    return json.dumps(
        {"status": exc.status, "code": exc.code, "message": exc.message, "details": exc.details},
        default=str,
    )


async def _answer(call: Awaitable[Any]) -> Any:
    """The API's answer, or its refusal as the tool's error (with the field errors) for the model to read."""
    try:
        return await call
    except ApiError as exc:
        raise ToolError(_refusal(exc)) from exc
    except Unreachable as exc:
        raise ToolError(f"TradeOffice is unreachable; try again shortly. ({exc})") from exc


def _given(**fields: Any) -> dict[str, Any]:
    return {k: v for k, v in fields.items() if v is not None}


def build_server(
    *, api_url: str = DEFAULT_API_URL, token: str | None = None, http: bool = False
) -> MCPServer:
    """The MCP server over the API at `api_url`: with `token` (stdio), or each client's own (`http`)."""
    clients = _Clients(api_url, token)
    options: dict[str, Any] = {}
    if http:
        options = {
            "token_verifier": AgentTokens(api_url),
            "auth": AuthSettings(issuer_url=AnyHttpUrl(api_base(api_url)), resource_server_url=None),
        }
    server = MCPServer(SERVER_NAME, instructions=INSTRUCTIONS, version="0.1.0", **options)

    # ---- long-term memory and the record ----

    @server.tool(description="Experiences similar to a situation, ranked (similarity, importance, recency).")
    async def recall_experiences(
        text: str,
        ctx: Context,
        symbol: str | None = None,
        outcome: str | None = None,
        tags: list[str] | None = None,
        min_importance: float | None = None,
        limit: int = 5,
    ) -> dict[str, Any]:
        """outcome: success or failure; tags: any of them; limit 1 to 100."""
        api = clients.for_request(ctx)
        return await _answer(
            api.memory.recall(
                text, symbol=symbol, outcome=outcome, tags=tags, min_importance=min_importance, limit=limit
            )
        )

    @server.tool(description="Record a decision before acting on it; orders may then name its id.")
    async def write_decision(
        decision_layer: str,
        input_context: dict[str, Any],
        thought_process: str,
        decision: str,
        ctx: Context,
        id: str | None = None,
        action_taken: str | None = None,
        tools_used: list[str] | None = None,
        model_used: str | None = None,
        tokens_used: int | None = None,
        latency_ms: int | None = None,
        idempotency_key: str | None = None,
    ) -> dict[str, Any]:
        """decision_layer: strategic or tactical. The same idempotency_key again records nothing new."""
        api = clients.for_request(ctx)
        body = _given(
            id=id,
            decision_layer=decision_layer,
            input_context=input_context,
            thought_process=thought_process,
            decision=decision,
            action_taken=action_taken,
            tools_used=tools_used,
            model_used=model_used,
            tokens_used=tokens_used,
            latency_ms=latency_ms,
        )
        return await _answer(api.decisions.create(body, **_key(idempotency_key)))

    @server.tool(description="Record an experience (what happened, why, the outcome, the lessons).")
    async def write_experience(
        situation: str,
        decision: str,
        decision_reasoning: str,
        outcome: str,
        ctx: Context,
        id: str | None = None,
        symbol: str | None = None,
        decision_id: str | None = None,
        pnl: str | None = None,
        pnl_percentage: str | None = None,
        importance_score: float | None = None,
        tags: list[str] | None = None,
        lessons_learned: list[str] | None = None,
        reflection: str | None = None,
        related_orders: list[str] | None = None,
        idempotency_key: str | None = None,
    ) -> dict[str, Any]:
        """outcome: success or failure; pnl and pnl_percentage as decimal strings ('22.79');
        importance_score 0 to 1."""
        api = clients.for_request(ctx)
        body = _given(
            id=id,
            situation=situation,
            decision=decision,
            decision_reasoning=decision_reasoning,
            outcome=outcome,
            symbol=symbol,
            decision_id=decision_id,
            pnl=pnl,
            pnl_percentage=pnl_percentage,
            importance_score=importance_score,
            tags=tags,
            lessons_learned=lessons_learned,
            reflection=reflection,
            related_orders=related_orders,
        )
        return await _answer(api.experiences.create(body, **_key(idempotency_key)))

    @server.tool(description="Open positions now (the current_positions view), with their value and PnL.")
    async def current_positions(
        ctx: Context, exchange: str | None = None, symbol: str | None = None
    ) -> dict[str, Any]:
        api = clients.for_request(ctx)
        return await _answer(api.positions.current(exchange=exchange, symbol=symbol))

    @server.tool(description="The newest performance figures of a strategy (or of all): returns, Sharpe, ...")
    async def performance_summary(
        ctx: Context, strategy_name: str | None = None, periods: int = 1
    ) -> dict[str, Any]:
        """periods: how many of the newest periods (1 to 100)."""
        api = clients.for_request(ctx)
        page = await _answer(api.performance_metrics.list(strategy_name=strategy_name, page_size=periods))
        return {"strategy_name": strategy_name, "periods": page.get("results", [])}

    # ---- short-term memory ----

    @server.tool(description="The market context kept for a symbol (5 minutes).")
    async def get_market_context(symbol: str, ctx: Context) -> dict[str, Any]:
        return await _answer(clients.for_request(ctx).memory.market_context(symbol))

    @server.tool(
        description="Keep the market context of a symbol (trend, indicators, funding...; 5 minutes)."
    )
    async def set_market_context(symbol: str, context: dict[str, Any], ctx: Context) -> dict[str, Any]:
        return await _answer(clients.for_request(ctx).memory.set_market_context(symbol, context))

    @server.tool(description="The trading context (the agent's own working notes; 1 hour).")
    async def get_trading_context(ctx: Context) -> dict[str, Any]:
        return await _answer(clients.for_request(ctx).memory.trading_context())

    @server.tool(description="Keep the trading context (1 hour).")
    async def set_trading_context(context: dict[str, Any], ctx: Context) -> dict[str, Any]:
        return await _answer(clients.for_request(ctx).memory.set_trading_context(context))

    @server.tool(description="The tickers kept for these symbols (10 seconds); missing ones are left out.")
    async def get_tickers(symbols: list[str], ctx: Context) -> dict[str, Any]:
        return await _answer(clients.for_request(ctx).memory.tickers(symbols))

    @server.tool(description="Keep tickers, {symbol: ccxt ticker} (10 seconds).")
    async def set_tickers(tickers: dict[str, dict[str, Any]], ctx: Context) -> dict[str, Any]:
        return await _answer(clients.for_request(ctx).memory.set_tickers(tickers))

    @server.tool(
        description="Count one call to an exchange endpoint against the shared limiter before making it: "
        "allowed, or retry_after seconds."
    )
    async def check_rate_limit(
        exchange: str, endpoint: str, ctx: Context, limit: int = 1000, window: int = 60
    ) -> dict[str, Any]:
        api = clients.for_request(ctx)
        return await _answer(api.memory.rate_limit(exchange, endpoint, limit=limit, window=window))

    # ---- resources ----

    @server.resource(
        "tradeoffice://strategies/active",
        name="active-strategies",
        description="Every strategy version active now, with its config.",
        mime_type="application/json",
    )
    async def active_strategies() -> str:
        # A static resource has no Context: the token is the request's (HTTP) or the server's (stdio).
        page = await _resource(clients.for_request(None).strategies.list(is_active=True, page_size=100))
        return json.dumps(page.get("results", []), default=str)

    @server.resource(
        "tradeoffice://strategies/active/{name}",
        name="active-strategy",
        description="The active version of the strategy `name`, with its config.",
        mime_type="application/json",
    )
    async def active_strategy(name: str, ctx: Context) -> str:
        return json.dumps(await _resource(clients.for_request(ctx).strategies.active(name)), default=str)

    @server.resource(
        "tradeoffice://reconciliation/discrepancies/open",
        name="open-discrepancies",
        description="Differences between the record and the exchanges that wait for an operator.",
        mime_type="application/json",
    )
    async def open_discrepancies() -> str:
        api = clients.for_request(None)
        page = await _resource(api.reconciliation.discrepancies(state="open", page_size=100))
        return json.dumps(
            {"count": page.get("count"), "results": page.get("results", []), "more": bool(page.get("next"))},
            default=str,
        )

    return server


def _key(idempotency_key: str | None) -> dict[str, Any]:
    return {"idempotency_key": idempotency_key} if idempotency_key else {}


async def _resource(call: Awaitable[Any]) -> Any:
    try:
        return await call
    except ApiError as exc:
        raise ResourceError(_refusal(exc)) from exc
    except Unreachable as exc:
        raise ResourceError(f"TradeOffice is unreachable; try again shortly. ({exc})") from exc


LOOPBACK = ("127.0.0.1", "localhost", "::1")


def http_app(
    *, api_url: str, host: str = "127.0.0.1", path: str = "/mcp", allowed_hosts: list[str] | None = None
):
    """The streamable-HTTP ASGI app (Starlette): agent-token auth on every request."""
    server = build_server(api_url=api_url, http=True)
    security = None
    if allowed_hosts:
        security = TransportSecuritySettings(allowed_hosts=allowed_hosts, allowed_origins=[])
    return server.streamable_http_app(streamable_http_path=path, host=host, transport_security=security)


async def check_token(api_url: str, token: str) -> None:
    """Refuse to start over stdio with a token the API refuses; an unreachable API is only a warning."""
    try:
        async with AsyncTradeOffice(api_url, token, retry=NO_RETRY) as api:
            await api.exchanges.list(page_size=1)
    except AuthenticationError as exc:
        raise SystemExit(f"TradeOffice refused the agent token: {exc.message}") from None
    except TradeOfficeError as exc:
        logger.warning(
            "TradeOffice at %s does not answer yet (%s); tools will say so until it does.", api_url, exc
        )


def serve(
    *,
    api_url: str = DEFAULT_API_URL,
    token: str | None = None,
    transport: str = "stdio",
    host: str = "127.0.0.1",
    port: int = DEFAULT_PORT,
    path: str = "/mcp",
    allowed_hosts: list[str] | None = None,
) -> None:
    """Run until stopped: over stdio with `token`, or streamable HTTP on host:port with clients' tokens.

    Listening beyond loopback needs `allowed_hosts` (the Host headers clients send, e.g. "mcp.example:8765"):
    the SDK then refuses any other, which keeps a web page from reaching the server by DNS rebinding."""
    if transport == "stdio":
        if not token:
            raise SystemExit("Set TRADEOFFICE_TOKEN to the agent's token (manage.py create_agent NAME).")
        anyio.run(check_token, api_url, token)
        build_server(api_url=api_url, token=token).run("stdio")
    elif transport == "streamable-http":
        import uvicorn

        if host not in LOOPBACK and not allowed_hosts:
            raise SystemExit(
                f"Listening on {host} needs --allowed-host HOST[:PORT] for each name clients reach the "
                "server by (the Host header): any other is refused, against DNS rebinding."
            )
        app = http_app(api_url=api_url, host=host, path=path, allowed_hosts=allowed_hosts)
        logger.info("TradeOffice MCP on http://%s:%s%s, for the API at %s", host, port, path, api_url)
        uvicorn.run(app, host=host, port=port, log_level="warning")
    else:
        raise SystemExit(f"Unknown transport {transport!r}: stdio or streamable-http.")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of `tradeoffice-mcp`, shared with `manage.py mcp_server`."""
    parser.add_argument(
        "--url",
        default=os.environ.get("TRADEOFFICE_URL", DEFAULT_API_URL),
        help="TradeOffice's address (default: $TRADEOFFICE_URL, else %(default)s).",
    )
    parser.add_argument("--transport", choices=["stdio", "streamable-http"], default="stdio")
    parser.add_argument("--host", default="127.0.0.1", help="Streamable HTTP: the address to listen on.")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help="Streamable HTTP: the port.")
    parser.add_argument("--path", default="/mcp", help="Streamable HTTP: the endpoint's path.")
    parser.add_argument(
        "--allowed-host",
        action="append",
        dest="allowed_hosts",
        metavar="HOST[:PORT]",
        help="Streamable HTTP: a Host header clients may send (repeatable); needed beyond loopback.",
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="tradeoffice-mcp",
        description="TradeOffice's MCP server. The agent token is read from $TRADEOFFICE_TOKEN (stdio); "
        "over streamable HTTP each client sends its own as 'Authorization: Bearer <token>'.",
    )
    add_arguments(parser)
    args = parser.parse_args(argv)
    # stdout is the protocol over stdio: logs go to stderr.
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(levelname)s %(name)s: %(message)s")
    serve(
        api_url=args.url,
        token=os.environ.get("TRADEOFFICE_TOKEN"),
        transport=args.transport,
        host=args.host,
        port=args.port,
        path=args.path,
        allowed_hosts=args.allowed_hosts,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
