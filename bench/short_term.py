"""Target 5: 1,000 tickers written as one batch at >= 50,000 keys/s and >= 20% of redis-benchmark.

`short_term.tickers_set_many` writes each ticker's market:ticker:{symbol} key (SET with its 10 s TTL) and
the market:tickers hash, in one MULTI/EXEC pipeline. The baseline is `redis-benchmark -P 16 -t set` against
the same server and database (8), with values the size of one ticker's JSON, measured in the same run.
"""

from __future__ import annotations

import json
import random
import re
import shutil
import subprocess
from urllib.parse import urlsplit

from _common import REDIS_URL, Results, expect, flush_redis, log, parser, setup_django_without_database, timed


def ccxt_ticker(symbol: str, rng: random.Random) -> dict:
    last = round(rng.uniform(0.01, 50000), 4)
    return {
        "symbol": symbol, "timestamp": 1767225600000, "datetime": "2026-01-01T00:00:00.000Z",
        "high": last * 1.02, "low": last * 0.98, "bid": last * 0.9999, "bidVolume": 1.5,
        "ask": last * 1.0001, "askVolume": 2.25, "vwap": last, "open": last * 0.99, "close": last,
        "last": last,
        "previousClose": last * 0.99, "change": last * 0.01, "percentage": 1.01, "average": last * 0.995,
        "baseVolume": 12345.678, "quoteVolume": 12345.678 * last,
        "info": {"symbol": symbol.replace("/", ""), "lastPrice": str(last), "count": 123456},
    }  # fmt: skip


def redis_benchmark(*, requests: int, pipeline: int, size: int) -> float:
    executable = shutil.which("redis-benchmark")
    expect(executable is not None, "redis-benchmark is not installed (apt-get install redis-tools)")
    url = urlsplit(REDIS_URL)
    command = [
        executable, "-h", url.hostname or "127.0.0.1", "-p", str(url.port or 6379), "--dbnum",
        url.path.strip("/") or "0", "-t", "set", "-P", str(pipeline), "-n", str(requests), "-r", "100000",
        "-d", str(size), "-q",
    ]  # fmt: skip
    output = subprocess.run(command, capture_output=True, text=True, timeout=300, check=True).stdout
    found = re.findall(r"SET: ([\d.]+) requests per second", output)
    expect(bool(found), f"unexpected redis-benchmark output: {output!r}")
    return float(found[-1])


def main() -> None:
    arguments = parser(__doc__.splitlines()[0])
    arguments.add_argument("--tickers", type=int, default=1000, help="Tickers per batch (1,000).")
    arguments.add_argument("--batches", type=int, default=200, help="Batches timed (200).")
    options = arguments.parse_args()
    results = Results(bench="short_term")

    setup_django_without_database()
    from apps.common import redis as shared_redis
    from apps.memory.services import short_term

    rng = random.Random(5)
    tickers = {f"C{n:04d}/USDT": ccxt_ticker(f"C{n:04d}/USDT", rng) for n in range(options.tickers)}
    size = sum(len(json.dumps(t, separators=(",", ":"))) for t in tickers.values()) // len(tickers)
    flush_redis()
    try:
        for _ in range(5):  # warm the connection and the code paths
            expect(short_term.tickers_set_many(tickers=tickers), "Redis refused the batch")
        per_batch = []
        with timed() as elapsed:
            for _ in range(options.batches):
                with timed() as one:
                    short_term.tickers_set_many(tickers=tickers)
                per_batch.append(one())
        seconds = elapsed()
        # The part no Redis client can avoid: encoding each ticker as JSON, the service's own encoder.
        with timed() as encoding:
            for _ in range(options.batches):
                for ticker in tickers.values():
                    short_term._dumps(ticker)
        encode_rate = options.tickers * options.batches / encoding()
        client = shared_redis.get_client()
        expect(client.hlen(short_term.tickers_hash_key()) == options.tickers, "the hash lacks tickers")
        expect(client.ttl(short_term.ticker_key("C0000/USDT")) > 0, "a ticker key has no TTL")
        flush_redis()
        log(f"redis-benchmark -P 16 SET, {size}-byte values")
        benchmark = redis_benchmark(requests=500_000, pipeline=16, size=size)
    finally:
        flush_redis()

    keys_per_second = options.tickers * options.batches / seconds
    per_batch.sort()
    results.add(
        figure=f"short-term memory: {options.tickers:,} tickers as one batch (tickers_set_many)",
        result=(
            f"{keys_per_second:,.0f} keys/s = {keys_per_second / benchmark:.0%} of redis-benchmark "
            f"(a batch: p50 {per_batch[len(per_batch) // 2] * 1000:.1f} ms)"
        ),
        baseline=f"redis-benchmark -P 16 SET {benchmark:,.0f} keys/s ({size}-byte values)",
        target=">= 50,000 keys/s and >= 20% of redis-benchmark",
        met=keys_per_second >= 50_000 and keys_per_second >= 0.2 * benchmark,
        detail=(
            "each ticker: a SET with TTL of market:ticker:{symbol} and a field of the market:tickers hash; "
            f"encoding the tickers as JSON alone runs at {encode_rate:,.0f}/s in this process"
        ),
    )
    results.write(options.json)


if __name__ == "__main__":
    main()
