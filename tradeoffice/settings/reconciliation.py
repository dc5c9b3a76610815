"""Settings of the exchange client and of reconciliation (the record checked against the exchange).

Imported at the end of base.py, so it reads the environment itself. docs/reconciliation.md explains each.
"""

from decimal import Decimal

import environ

_env = environ.Env()

# --- The exchange client (apps/exchanges/client.py) -------------------------------------------------
# Seconds before one HTTP request to an exchange gives up.
EXCHANGE_TIMEOUT = _env.float("EXCHANGE_TIMEOUT", default=10.0)
# Calls per minute to one endpoint of one account, counted across every process in Redis
# (ratelimit:{exchange}:{endpoint}); ccxt's own per-process throttle applies as well.
EXCHANGE_RATE_LIMIT_PER_MINUTE = _env.int("EXCHANGE_RATE_LIMIT_PER_MINUTE", default=600)
# Seconds a call may wait for the shared limiter before it gives up (the run is then partial).
EXCHANGE_RATE_LIMIT_MAX_WAIT = _env.float("EXCHANGE_RATE_LIMIT_MAX_WAIT", default=30.0)
# ccxt's own per-process throttle (its `enableRateLimit`), on top of the shared limiter.
EXCHANGE_CCXT_THROTTLE = _env.bool("EXCHANGE_CCXT_THROTTLE", default=True)
# ccxt's urls['api'] per exchange name, for a proxy or a regional endpoint (JSON: {"binance": {...}}).
EXCHANGE_API_URLS = _env.json("EXCHANGE_API_URLS", default={})

# The currency snapshots taken from an exchange's balances are valued in (each asset at the exchange's own
# ticker against it; an asset without one is an error, never valued 1:1).
REPORTING_CURRENCY = _env("REPORTING_CURRENCY", default="USDT")
# How old a recorded fill may be to serve as a conversion rate into REPORTING_CURRENCY (rates.py).
REPORTING_RATE_MAX_AGE_HOURS = _env.int("REPORTING_RATE_MAX_AGE_HOURS", default=24)
# The tearsheet's buy-and-hold benchmark: its rate is kept with every snapshot that can price it.
PERFORMANCE_BENCHMARK = _env("PERFORMANCE_BENCHMARK", default="BTC")

# --- Reconciliation ------------------------------------------------------------------------------
# What a run adopts by itself: "missing_trade" (a fill on the exchange the record lacks) and
# "terminal_status" (an order the exchange reports filled, canceled, rejected or expired). Everything
# else waits for an operator. Empty: nothing is adopted without one.
RECONCILIATION_AUTO_ADOPT = _env.list("RECONCILIATION_AUTO_ADOPT", default=[])
# How far before the last run's watermark each run fetches again, so nothing at a page or run boundary
# (or stamped late by the exchange) is missed. Seconds.
RECONCILIATION_OVERLAP_SECONDS = _env.int("RECONCILIATION_OVERLAP_SECONDS", default=600)
# Where the first run of an account starts, in days back (or --since).
RECONCILIATION_FIRST_RUN_DAYS = _env.int("RECONCILIATION_FIRST_RUN_DAYS", default=30)
# A balance differs when |exchange - expected| exceeds max(absolute, relative x |exchange|).
RECONCILIATION_BALANCE_TOLERANCE = Decimal(_env("RECONCILIATION_BALANCE_TOLERANCE", default="0.00000010"))
RECONCILIATION_BALANCE_TOLERANCE_RELATIVE = Decimal(
    _env("RECONCILIATION_BALANCE_TOLERANCE_RELATIVE", default="0.0001")
)
# Client order id prefixes an agent's orders carry. An order the record lacks is "missing_order" (an agent
# placed it and did not record it) when its client id has one of them, "external" otherwise. Empty: only
# the exchanges' own manual-order ids (web_, ios_, and_, ...) count as external.
RECONCILIATION_AGENT_ORDER_PREFIXES = _env.list("RECONCILIATION_AGENT_ORDER_PREFIXES", default=[])
# Which symbols a run reads fills and orders of, besides those the record holds and those with open orders:
# every spot market whose base the account holds against one of these quote currencies...
RECONCILIATION_QUOTE_CURRENCIES = _env.list(
    "RECONCILIATION_QUOTE_CURRENCIES", default=["USDT", "USDC", "USD"]
)
# ...and these, always (ccxt symbols, e.g. BTC/USDT,ETH/USDT:USDT).
RECONCILIATION_SYMBOLS = _env.list("RECONCILIATION_SYMBOLS", default=[])
# Accounts whose derivatives positions are read and compared even when the record holds none (an account
# with recorded contract positions always is). Spot accounts' holdings are compared as balances.
RECONCILIATION_FETCH_POSITIONS = _env.list("RECONCILIATION_FETCH_POSITIONS", default=["okx", "bybit"])
# Days of trades fetched per request window (each window paginated by ccxt), which bounds memory.
RECONCILIATION_WINDOW_HOURS = _env.int("RECONCILIATION_WINDOW_HOURS", default=24)
