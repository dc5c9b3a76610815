"""Real ccxt (sync binance and okx) against the exchange emulator: what ccxt parses is what the account
holds, its pagination sees every fill once, and the exchanges' faults reach it as ccxt's own errors."""

import ccxt
import pytest

from tests.reconciliation.emulator import BINANCE, DAY_MS, HOUR_MS, OKX, api_urls, ccxt_client, now_ms

DIALECTS = [BINANCE, OKX]


@pytest.fixture(params=DIALECTS)
def account(request, exchange_emulator):
    return exchange_emulator.add_account(request.param)


@pytest.fixture
def binance(exchange_emulator):
    return exchange_emulator.add_account(BINANCE)


@pytest.fixture
def okx(exchange_emulator):
    return exchange_emulator.add_account(OKX)


def private_records(account):
    return [r for r in account.requests if r.verified is not None]


# ---- markets, time, URLs ----


def test_binance_markets_load_with_the_exchange_filters(binance):
    exchange = binance.client()

    markets = exchange.load_markets()

    btc = markets["BTC/USDT"]
    assert (btc["id"], btc["spot"], btc["active"]) == ("BTCUSDT", True, True)
    assert btc["precision"]["price"] == 0.01
    assert btc["precision"]["amount"] == 0.00001
    assert btc["limits"]["amount"]["min"] == 0.00001
    assert btc["limits"]["cost"]["min"] == 5
    assert {"ETH/USDT", "ETH/BTC"} <= set(markets)
    # With keys, load_markets also reads the wallet's coins and the margin pairs, all signed.
    paths = {r.path for r in binance.requests}
    assert {"/api/v3/exchangeInfo", "/sapi/v1/capital/config/getall", "/sapi/v1/margin/allPairs"} <= paths
    assert all(r.verified for r in private_records(binance))
    assert exchange.currencies["BTC"]["id"] == "BTC"


def test_okx_markets_load_spot_and_swap_instruments(okx):
    exchange = okx.client()

    markets = exchange.load_markets()

    btc = markets["BTC/USDT"]
    assert (btc["id"], btc["spot"]) == ("BTC-USDT", True)
    assert btc["precision"]["price"] == 0.1
    assert btc["limits"]["amount"]["min"] == 0.00001
    swap = markets["BTC/USDT:USDT"]
    assert (swap["id"], swap["swap"], swap["linear"], swap["contractSize"]) == (
        "BTC-USDT-SWAP",
        True,
        True,
        0.01,
    )
    assert exchange.currencies["USDT"]["id"] == "USDT"


def test_fetch_time_is_the_server_clock(account):
    account.skew_clock(3_600_000)

    server_time = account.client().fetch_time()

    assert abs(server_time - (now_ms() + 3_600_000)) < 5_000


def test_api_urls_aim_every_binance_endpoint_at_the_emulator(exchange_emulator):
    urls = api_urls(BINANCE, exchange_emulator.url + "/")

    assert set(urls) == set(ccxt.binance().urls["api"])  # every key ccxt signs requests for
    assert all(url.startswith(exchange_emulator.url + "/") for url in urls.values())
    assert (urls["private"], urls["sapi"]) == (
        exchange_emulator.url + "/api/v3",
        exchange_emulator.url + "/sapi/v1",
    )
    assert urls["dapiData"] != urls["fapiData"]  # the same /futures/data path on two hosts
    assert api_urls(OKX, exchange_emulator.url) == {"rest": exchange_emulator.url}


# ---- orders and fills ----


def test_an_order_partly_then_fully_filled_is_open_then_closed(account):
    order_id = account.place_order("BTC/USDT", "buy", "limit", "1", "60000", client_order_id="agent-1")
    account.fill(order_id, "0.4", "59990", fee="0.0004", fee_currency="BTC", maker=True)
    exchange = account.client()

    [open_order] = exchange.fetch_open_orders("BTC/USDT")

    assert (open_order["id"], open_order["clientOrderId"], open_order["status"]) == (
        order_id,
        "agent-1",
        "open",
    )
    assert (open_order["amount"], open_order["filled"], open_order["remaining"]) == (1, 0.4, 0.6)
    assert open_order["price"] == 60000

    account.fill(order_id, "0.6", "60000", fee="0.0006", fee_currency="BTC", maker=False)
    order = exchange.fetch_order(order_id, "BTC/USDT")

    assert (order["status"], order["filled"], order["remaining"]) == ("closed", 1, 0)
    assert order["average"] == pytest.approx(59996)
    assert order["cost"] == pytest.approx(59996)
    assert exchange.fetch_open_orders("BTC/USDT") == []
    assert [o["id"] for o in exchange.fetch_closed_orders("BTC/USDT")] == [order_id]
    trades = exchange.fetch_my_trades("BTC/USDT")
    assert [(t["order"], t["amount"], t["price"], t["takerOrMaker"]) for t in trades] == [
        (order_id, 0.4, 59990, "maker"),
        (order_id, 0.6, 60000, "taker"),
    ]
    assert [t["fee"] for t in trades] == [
        {"cost": 0.0004, "currency": "BTC"},
        {"cost": 0.0006, "currency": "BTC"},
    ]
    if account.dialect == OKX:  # OKX's order carries its accumulated fee
        assert order["fee"] == {"cost": pytest.approx(0.001), "currency": "BTC"}
    else:  # Binance's order endpoints carry none: its fees are in myTrades only
        assert order["fee"] is None


def test_binance_fetch_orders_lists_every_status_oldest_first(binance):
    now = now_ms()
    filled = binance.place_order("BTC/USDT", "buy", "limit", "1", "60000", at=now - 3000)
    binance.fill(filled, "1", "60000", at=now - 2500)
    canceled = binance.place_order("BTC/USDT", "sell", "limit", "1", "70000", at=now - 2000)
    binance.cancel(canceled, at=now - 1500)
    live = binance.place_order("BTC/USDT", "buy", "market", "0.5", at=now - 1000)
    exchange = binance.client()

    orders = exchange.fetch_orders("BTC/USDT")
    since_second = exchange.fetch_orders("BTC/USDT", since=now - 2000)

    assert [(o["id"], o["status"], o["type"]) for o in orders] == [
        (filled, "closed", "limit"),
        (canceled, "canceled", "limit"),
        (live, "open", "market"),
    ]
    assert [o["id"] for o in since_second] == [canceled, live]
    assert binance.requests_to("/api/v3/allOrders")[-1].query["startTime"] == str(now - 2000)


def test_open_orders_without_a_symbol_span_the_markets(account):
    btc = account.place_order("BTC/USDT", "buy", "limit", "0.1", "55000")
    eth = account.place_order("ETH/BTC", "sell", "limit", "3", "0.06")
    # ccxt's binance refuses to ask for every symbol (the heavier rate limit) unless told it may.
    exchange = account.client(fetchOpenOrders={"warnWithoutSymbol": False})

    orders = exchange.fetch_open_orders()

    assert sorted((o["id"], o["symbol"]) for o in orders) == sorted([(btc, "BTC/USDT"), (eth, "ETH/BTC")])


def test_a_canceled_order_keeps_its_partial_fill(account):
    partly = account.place_order("ETH/USDT", "sell", "limit", "2", "3100")
    account.fill(partly, "0.5", "3100", fee="0.155", fee_currency="USDT")
    account.cancel(partly)
    untouched = account.place_order("ETH/USDT", "buy", "limit", "1", "2900")
    account.cancel(untouched)
    exchange = account.client()
    exchange.load_markets()  # ccxt's binance.fetch_canceled_orders does not load them itself

    canceled = {o["id"]: o for o in exchange.fetch_canceled_orders("ETH/USDT")}

    assert set(canceled) == {partly, untouched}
    assert (canceled[partly]["status"], canceled[partly]["filled"]) == ("canceled", 0.5)
    assert canceled[untouched]["filled"] == 0
    assert exchange.fetch_closed_orders("ETH/USDT") == []
    assert exchange.fetch_order(partly, "ETH/USDT")["status"] == "canceled"


def test_an_unknown_order_is_order_not_found(account):
    with pytest.raises(ccxt.OrderNotFound):
        account.client().fetch_order("123456789", "BTC/USDT")


def test_okx_keeps_order_history_as_long_as_its_docs_say(okx):
    now = now_ms()
    old_cancel = okx.place_order("BTC/USDT", "buy", "limit", "1", "50000", at=now - 3 * HOUR_MS)
    okx.cancel(old_cancel, at=now - 3 * HOUR_MS)
    last_week = okx.place_order("BTC/USDT", "buy", "limit", "1", "50000", at=now - 8 * DAY_MS)
    okx.fill(last_week, "1", "50000", fee="0.001", at=now - 8 * DAY_MS)
    exchange = okx.client()

    assert exchange.fetch_canceled_orders("BTC/USDT") == []  # a canceled order with no fill: 2 hours
    assert exchange.fetch_closed_orders("BTC/USDT") == []  # orders-history: 7 days
    archived = exchange.fetch_closed_orders(
        "BTC/USDT", params={"method": "privateGetTradeOrdersHistoryArchive"}
    )
    assert [o["id"] for o in archived] == [last_week]


def test_okx_fills_keep_three_days_and_fills_history_three_months(okx):
    now = now_ms()
    order_id = okx.place_order("BTC/USDT", "buy", "limit", "2", "60000", at=now - 5 * DAY_MS)
    old = okx.fill(order_id, "1", at=now - 5 * DAY_MS)
    recent = okx.fill(order_id, "1", at=now - HOUR_MS)
    exchange = okx.client()

    fills = exchange.privateGetTradeFills({"instType": "SPOT"})["data"]
    history = exchange.fetch_my_trades("BTC/USDT")

    assert [f["tradeId"] for f in fills] == [recent]
    assert [t["id"] for t in history] == [old, recent]


def test_orders_placed_through_ccxt_are_recorded_and_cancelable(account):
    exchange = account.client()

    placed = exchange.create_order("BTC/USDT", "limit", "buy", 0.01, 50000)
    canceled = exchange.cancel_order(placed["id"], "BTC/USDT")

    order = account.orders[placed["id"]]
    assert (str(order.amount), str(order.price), order.status) == ("0.01", "50000", "canceled")
    assert canceled["id"] == placed["id"]
    assert exchange.fetch_order(placed["id"], "BTC/USDT")["status"] == "canceled"


# ---- fetch_my_trades over 5,000 fills ----


def test_binance_since_limit_paging_sees_5000_fills_once(binance):
    start = now_ms() - 2 * HOUR_MS
    ids = binance.add_trades_bulk(5000, "BTC/USDT", start=start, side="alternate")
    exchange = binance.client()
    exchange.load_markets()

    seen, since = [], start
    while page := exchange.fetch_my_trades("BTC/USDT", since, 1000):
        seen += page
        since = page[-1]["timestamp"] + 1

    assert [t["id"] for t in seen] == ids
    assert len(binance.requests_to("/api/v3/myTrades")) == 6  # five pages of 1000 and the empty one


def test_binance_paginate_option_sees_5000_fills_once(binance):
    ids = binance.add_trades_bulk(5000, "BTC/USDT")
    exchange = binance.client()

    trades = exchange.fetch_my_trades("BTC/USDT", params={"paginate": True})

    assert [t["id"] for t in trades] == ids
    pages = binance.requests_to("/api/v3/myTrades")
    assert [("endTime" in r.query, r.query["limit"]) for r in pages[:2]] == [(False, "1000"), (True, "1000")]


def test_binance_refuses_more_than_24_hours_between_start_and_end(binance):
    exchange = binance.client()
    since = now_ms() - 3 * DAY_MS

    with pytest.raises(ccxt.BadRequest, match="-1127"):
        exchange.fetch_my_trades("BTC/USDT", since, params={"until": since + 2 * DAY_MS})


def test_okx_paginate_option_sees_5000_fills_once_given_enough_calls(okx):
    ids = okx.add_trades_bulk(5000, "BTC/USDT", side="alternate")
    exchange = okx.client()

    trades = exchange.fetch_my_trades("BTC/USDT", params={"paginate": True, "paginationCalls": 60})
    capped = exchange.fetch_my_trades("BTC/USDT", params={"paginate": True})

    assert [t["id"] for t in trades] == ids
    # OKX answers at most 100 a page; ccxt's default of 10 calls stops at the newest 1000.
    assert [t["id"] for t in capped] == ids[-1000:]


def test_okx_pages_backwards_by_until_and_by_the_after_cursor(okx):
    ids = okx.add_trades_bulk(5000, "BTC/USDT")
    exchange = okx.client()
    exchange.load_markets()

    by_until, params = [], {}
    while page := exchange.fetch_my_trades("BTC/USDT", None, 100, params):
        by_until = page + by_until
        params = {"until": page[0]["timestamp"] - 1}
    by_cursor, params = [], {}
    while page := exchange.fetch_my_trades("BTC/USDT", None, 100, params):
        by_cursor = page + by_cursor
        params = {"after": page[0]["info"]["billId"]}

    assert [t["id"] for t in by_until] == ids
    assert [t["id"] for t in by_cursor] == ids


def test_okx_since_alone_answers_the_newest_page_after_it(okx):
    start = now_ms() - 2 * HOUR_MS
    ids = okx.add_trades_bulk(500, "BTC/USDT", start=start)

    trades = okx.client().fetch_my_trades("BTC/USDT", since=start)

    # Not the 100 after since, as on Binance: OKX lists newest first (ccxt's okx.py says as much;
    # ccxt/ccxt#20964 and #23830 are users meeting it).
    assert [t["id"] for t in trades] == ids[-100:]


# ---- fees ----


def test_a_maker_rebate_parses_as_a_negative_fee(account):
    order_id = account.place_order("BTC/USDT", "sell", "limit", "0.1", "61000")
    account.fill(order_id, "0.1", "61000", fee="-0.61", fee_currency="USDT", maker=True)

    [trade] = account.client().fetch_my_trades("BTC/USDT")

    assert trade["fee"] == {"cost": -0.61, "currency": "USDT"}
    assert trade["takerOrMaker"] == "maker"
    if account.dialect == OKX:  # OKX's own sign: a charge is negative, a rebate positive
        assert trade["info"]["fee"] == "0.61"


# ---- signatures and credentials ----


def test_the_right_credentials_verify(account):
    account.set_balance("USDT", "100")

    account.client().fetch_balance()

    assert private_records(account)
    assert all(r.verified and r.api_key == account.api_key for r in private_records(account))


def test_a_wrong_secret_is_an_authentication_error_and_does_not_verify(account):
    exchange = ccxt_client(account.dialect, account, account.api_key, "not-the-secret", account.password)

    with pytest.raises(ccxt.AuthenticationError):
        exchange.fetch_balance()

    last = private_records(account)[-1]
    assert (last.verified, last.api_key) == (False, account.api_key)
    assert last.code == {BINANCE: "-1022", OKX: "50113"}[account.dialect]


def test_an_unknown_api_key_is_an_authentication_error(exchange_emulator, account):
    for target in (account, exchange_emulator):  # the account's prefix, and the bare server URL
        exchange = ccxt_client(account.dialect, target, "f" * 64, account.secret, account.password)
        with pytest.raises(ccxt.AuthenticationError):
            exchange.fetch_balance()
    assert exchange_emulator.requests[-1].code == {BINANCE: "-2015", OKX: "50111"}[account.dialect]


def test_a_wrong_okx_passphrase_is_an_authentication_error(okx):
    exchange = ccxt_client(OKX, okx, okx.api_key, okx.secret, "wrong-passphrase")

    with pytest.raises(ccxt.AuthenticationError):
        exchange.fetch_balance()

    last = private_records(okx)[-1]
    assert (last.verified, last.code) == (True, "50105")  # signed right, refused on the passphrase


def test_a_refused_key_is_an_authentication_error(account):
    exchange = account.client()
    exchange.load_markets()
    account.refuse_auth()

    with pytest.raises(ccxt.AuthenticationError):
        exchange.fetch_balance()

    account.refuse_auth(False)
    exchange.fetch_balance()


# ---- faults ----


def test_a_429_storm_is_ccxt_rate_limit_error_then_passes(account):
    exchange = account.client()
    exchange.load_markets()
    account.rate_limit_storm(3, retry_after=7)
    expected = {BINANCE: ccxt.DDoSProtection, OKX: ccxt.RateLimitExceeded}[account.dialect]

    for _ in range(3):
        with pytest.raises(expected):
            exchange.fetch_balance()

    if account.dialect == BINANCE:
        assert exchange.last_response_headers["Retry-After"] == "7"
    assert [r.status for r in account.requests[-3:]] == [429, 429, 429]
    exchange.fetch_balance()


def test_the_exchange_going_down_mid_pagination_is_a_network_error(account):
    account.add_trades_bulk(5000, "BTC/USDT")
    exchange = account.client()
    exchange.load_markets()
    account.go_down(after=2)

    with pytest.raises(ccxt.ExchangeNotAvailable) as raised:
        exchange.fetch_my_trades("BTC/USDT", params={"paginate": True, "paginationCalls": 60})

    assert isinstance(raised.value, ccxt.NetworkError)
    path = {BINANCE: "/api/v3/myTrades", OKX: "/api/v5/trade/fills-history"}[account.dialect]
    statuses = [r.status for r in account.requests_to(path)]
    assert statuses == [200, 200, 503, 503, 503, 503]  # two pages, then ccxt's three retries give up


@pytest.mark.parametrize(
    ("mode", "error"),
    [
        ("maintenance", ccxt.OnMaintenance),
        ("unavailable", ccxt.ExchangeNotAvailable),
        ("reset", ccxt.NetworkError),
    ],
)
def test_each_outage_is_a_network_error_until_recovery(account, mode, error):
    exchange = account.client()
    exchange.load_markets()
    account.go_down(mode=mode)

    with pytest.raises(error):
        exchange.fetch_balance()

    account.recover()
    exchange.fetch_balance()


def test_clock_skew_is_invalid_nonce_until_ccxt_adjusts(account):
    exchange = account.client()
    exchange.load_markets()
    account.skew_clock(60_000)  # the exchange's clock a minute ahead of ours

    with pytest.raises(ccxt.InvalidNonce):
        exchange.fetch_balance()

    assert private_records(account)[-1].code == {BINANCE: "-1021", OKX: "50102"}[account.dialect]
    exchange.load_time_difference()
    exchange.fetch_balance()


# ---- balances, transfers, tickers, positions ----


def test_balances_parse(account):
    account.set_balance("BTC", "1.5", "0.5")
    account.set_balance("USDT", "1000")

    balance = account.client().fetch_balance()

    assert (balance["BTC"]["free"], balance["BTC"]["used"], balance["BTC"]["total"]) == (1.5, 0.5, 2)
    assert balance["USDT"]["total"] == 1000


def test_deposits_and_withdrawals_parse(account):
    now = now_ms()
    credited = account.add_deposit("BTC", "0.5", at=now - 2 * HOUR_MS, txid="ab" * 32)
    pending = account.add_deposit("USDT", "1000", at=now - HOUR_MS, status="pending")
    withdrawn = account.add_withdrawal("ETH", "2", fee="0.005", at=now - 30 * 60_000)
    exchange = account.client()

    deposits = exchange.fetch_deposits()
    withdrawals = exchange.fetch_withdrawals()

    assert [(d["id"], d["currency"], d["amount"], d["status"], d["type"]) for d in deposits] == [
        (credited, "BTC", 0.5, "ok", "deposit"),
        (pending, "USDT", 1000, "pending", "deposit"),
    ]
    assert deposits[0]["txid"] == "ab" * 32
    assert deposits[0]["timestamp"] == now - 2 * HOUR_MS
    [withdrawal] = withdrawals
    assert (withdrawal["id"], withdrawal["currency"], withdrawal["amount"]) == (withdrawn, "ETH", 2)
    assert (withdrawal["status"], withdrawal["type"]) == ("ok", "withdrawal")
    assert withdrawal["fee"] == {"currency": "ETH", "cost": 0.005}
    assert [d["id"] for d in exchange.fetch_deposits("BTC")] == [credited]


def test_tickers_parse(account):
    account.set_ticker("BTC/USDT", "61000", bid="60990", ask="61010", open="60000")

    tickers = account.client().fetch_tickers(["BTC/USDT", "ETH/USDT"])

    btc = tickers["BTC/USDT"]
    assert (btc["last"], btc["bid"], btc["ask"], btc["open"]) == (61000, 60990, 61010, 60000)
    assert tickers["ETH/USDT"]["last"] == 3000


def test_okx_swap_positions_parse(okx):
    okx.set_position("BTC/USDT:USDT", "-3", "60000", mark_price="59000", leverage=10)

    [position] = okx.client().fetch_positions()

    assert (position["symbol"], position["side"], position["contracts"]) == ("BTC/USDT:USDT", "short", 3)
    assert (position["entryPrice"], position["markPrice"], position["leverage"]) == (60000, 59000, 10)
    assert position["unrealizedPnl"] == pytest.approx(30)  # (59000 - 60000) x -3 contracts x 0.01 BTC
    assert position["notional"] == pytest.approx(1770)
    assert position["marginMode"] == "cross"


# ---- several accounts ----


def test_accounts_on_one_server_are_kept_apart(exchange_emulator):
    first = exchange_emulator.add_account(BINANCE, "desk-a")
    second = exchange_emulator.add_account(BINANCE, "desk-b")
    first.set_balance("BTC", "1")
    second.set_balance("BTC", "2")

    by_prefix = first.client().fetch_balance()["BTC"]["total"]
    by_key = ccxt_client(BINANCE, exchange_emulator, second.api_key, second.secret).fetch_balance()

    assert (by_prefix, by_key["BTC"]["total"]) == (1, 2)
    assert {r.account for r in first.requests} == {"desk-a"}
    assert any(r.path == "/api/v3/account" for r in second.requests)
    unnamed = [exchange_emulator.add_account(BINANCE).name for _ in range(2)]
    assert unnamed == ["binance", "binance2"]
