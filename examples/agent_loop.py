"""A whole trading loop on tradeoffice-client: recall, decide, order through the recording ccxt wrapper,
follow the fills, write the experience.

    python examples/agent_loop.py --url http://127.0.0.1:8000 --exchange binance \
        --exchange-url http://127.0.0.1:PORT/binance --api-key KEY --secret SECRET

The agent token is read from $TRADEOFFICE_TOKEN. `--exchange-url` points ccxt at a Binance-compatible
REST API: the exchange emulator of tests/reconciliation/emulator.py (what tests/client/test_example.py
runs it against), or Binance's spot testnet. Where an LLM would decide, a plain rule stands in
(`decide`): the loop around it is the point.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit

import ccxt
from tradeoffice_client import TradeOffice, decimal_text


@dataclass
class Outcome:
    decision_id: str
    order_id: str
    filled: Decimal
    average: Decimal
    fees: Decimal


def binance_client(api_url: str, api_key: str, secret: str) -> Any:
    """ccxt's binance with every endpoint at `api_url` (the emulator's account, or a testnet)."""
    base = api_url.rstrip("/")
    urls = {key: base + urlsplit(url).path for key, url in ccxt.binance().describe()["urls"]["api"].items()}
    exchange = ccxt.binance({"apiKey": api_key, "secret": secret, "enableRateLimit": False})
    exchange.urls["api"] = urls
    exchange.session.trust_env = False
    return exchange


def decide(ticker: dict[str, Any], memories: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The LLM's place: buy the dip when similar situations mostly went well. None: do nothing."""
    wins = [m for m in memories if m["experience"]["outcome"] == "success"]
    if memories and len(wins) * 2 < len(memories):
        return None
    return {
        "side": "buy",
        "amount": Decimal("0.01"),
        "reason": f"{len(wins)} of {len(memories)} similar setups succeeded; last {ticker['last']}.",
    }


def run(
    office: TradeOffice, exchange: Any, *, exchange_name: str, symbol: str, wait: float = 10.0
) -> Outcome | None:
    recording = office.record(exchange, exchange_name=exchange_name)

    # 1. Look around: the market, kept in short-term memory; the shared limiter before the exchange.
    ticker = exchange.fetch_ticker(symbol)
    office.memory.set_market_context(symbol, {"last": decimal_text(ticker["last"]), "trend": "down"})

    # 2. Recall similar experiences.
    situation = f"{symbol} after a sharp drop, funding negative"
    memories = office.memory.recall(situation, symbol=symbol, limit=5)["results"]

    # 3. Decide, and record the decision with what it saw; the order placed inside is linked to it.
    plan = decide(ticker, memories)
    if plan is None:
        return None
    limiter = office.memory.rate_limit(exchange_name, "create_order", limit=50, window=10)
    if not limiter["allowed"]:
        time.sleep(limiter["retry_after"])
    with office.decision(
        decision_layer="tactical",
        input_context={"symbol": symbol, "last": decimal_text(ticker["last"]), "memories": len(memories)},
        thought_process=plan["reason"],
        tools_used=["fetch_ticker", "recall"],
        decision=f"{plan['side']} {plan['amount']} {symbol} at market",
        action_taken="create_order",
        model_used="rule",
    ) as decision:
        order = recording.create_order(symbol, "market", plan["side"], float(plan["amount"]))

    # 4. Follow the order until the exchange says it is done, then its fills.
    deadline = time.monotonic() + wait
    while (
        order["status"] not in ("closed", "canceled", "expired", "rejected") and time.monotonic() < deadline
    ):
        time.sleep(0.2)
        order = recording.fetch_order(order["id"], symbol)
    fills = [t for t in recording.fetch_my_trades(symbol) if t["order"] == order["id"]]
    filled = sum((Decimal(decimal_text(t["amount"])) for t in fills), Decimal(0))
    cost = sum((Decimal(decimal_text(t["cost"])) for t in fills), Decimal(0))
    fees = sum((Decimal(decimal_text(t["fee"]["cost"])) for t in fills if t.get("fee")), Decimal(0))
    average = (cost / filled).quantize(Decimal("0.00000001")) if filled else Decimal(0)

    # 5. What happened, as an experience: long-term memory has it for the next recall.
    office.experiences.create(
        decision_id=decision.id,
        symbol=symbol,
        situation=situation,
        tags=["dip", symbol.split("/")[0].lower()],
        decision=f"Bought {filled} {symbol} at {average}",
        decision_reasoning=plan["reason"],
        outcome="success" if filled == plan["amount"] else "failure",
        importance_score=0.6,
        lessons_learned=[f"Filled {filled} of {plan['amount']} in {len(fills)} fill(s)."],
        related_orders=[order["id"]],
    )
    result = office.flush()  # anything still waiting in the spool (TradeOffice away for a moment)
    if result.pending:
        print(f"{result.pending} records wait in the spool for TradeOffice", file=sys.stderr)
    return Outcome(decision.id, order["id"], filled, average, fees)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", default=os.environ.get("TRADEOFFICE_URL", "http://127.0.0.1:8000"))
    parser.add_argument("--exchange", default="binance", help="The exchange's name in TradeOffice.")
    parser.add_argument("--exchange-url", required=True, help="A Binance-compatible REST API.")
    parser.add_argument("--api-key", default=os.environ.get("EXCHANGE_API_KEY", ""))
    parser.add_argument("--secret", default=os.environ.get("EXCHANGE_SECRET", ""))
    parser.add_argument("--symbol", default="BTC/USDT")
    parser.add_argument("--spool", default=os.environ.get("TRADEOFFICE_SPOOL", "tradeoffice-spool.sqlite3"))
    args = parser.parse_args(argv)

    token = os.environ.get("TRADEOFFICE_TOKEN")
    if not token:
        parser.error("set TRADEOFFICE_TOKEN (manage.py create_agent NAME prints one)")
    exchange = binance_client(args.exchange_url, args.api_key, args.secret)
    with TradeOffice(args.url, token, spool_path=args.spool) as office:
        outcome = run(office, exchange, exchange_name=args.exchange, symbol=args.symbol)
    if outcome is None:
        print("No trade: similar situations mostly went badly.")
    else:
        print(
            f"Decision {outcome.decision_id}: order {outcome.order_id} filled {outcome.filled} "
            f"at {outcome.average} (fees {outcome.fees})."
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
