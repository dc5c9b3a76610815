"""Target 4: recall from 100,000 experiences at p95 <= 25 ms and recall@10 >= 0.95 on the embedded default.

The experiences are synthetic trading situations embedded by the default embedder (hashing, 384
dimensions), with the seed's payload. They are written through the memory service into the embedded
default (Qdrant Edge, settings.QDRANT_EMBEDDED_ENGINE "edge"): its HNSW graph is built as the load
crosses the indexing threshold. Timed: `memory_recall(vector=..., outcome="success", min_importance=0.5)`
(the embedding of the query excluded), and without filters. Recall@10: the backend's filtered top 10
against the exact top 10 by numpy (a hit tied with the 10th within 1e-6 counts). The baseline is the
previous embedded default, qdrant-client's local mode, with the same points and queries.
"""

from __future__ import annotations

import random
import tempfile
import time
from datetime import UTC, datetime, timedelta

from _common import Results, expect, log, parser, percentile, setup_django_without_database, timed

SYMBOLS = [
    "BTC/USDT", "ETH/USDT", "SOL/USDT", "BNB/USDT", "XRP/USDT", "ADA/USDT", "DOGE/USDT", "AVAX/USDT",
    "LINK/USDT", "DOT/USDT", "LTC/USDT", "ARB/USDT",
]  # fmt: skip
TRENDS = [
    "uptrend", "downtrend", "sideways range", "breakout above resistance", "breakdown below support",
    "reversal", "consolidation", "capitulation", "short squeeze", "grinding higher",
]  # fmt: skip
SIGNALS = [
    "RSI {v} oversold", "RSI {v} overbought", "MACD bullish cross", "MACD bearish cross",
    "price above the 200-day moving average", "price below the 50 EMA", "bollinger band squeeze",
    "volume spike {v}%", "funding rate negative", "funding rate elevated", "open interest rising",
    "whale outflows from exchanges",
]  # fmt: skip
CONTEXT = [
    "after the CPI release", "during the Asian session", "ahead of FOMC", "weekend low liquidity",
    "ETF inflows", "exchange outage", "liquidation cascade", "halving narrative", "risk-off equities",
    "dollar strength",
]  # fmt: skip
TIMEFRAMES = ["1m", "5m", "15m", "1h", "4h", "1d"]
TAGS = ["btc", "eth", "alts", "oversold", "overbought", "breakout", "reversal", "news", "funding", "squeeze"]
NOW = datetime(2026, 11, 1, tzinfo=UTC)


def situation(rng: random.Random) -> str:
    parts = [f"{rng.choice(SYMBOLS)} {rng.choice(TIMEFRAMES)} {rng.choice(TRENDS)}"]
    parts += [rng.choice(SIGNALS).format(v=rng.randint(5, 95)) for _ in range(rng.randint(1, 3))]
    parts.append(rng.choice(CONTEXT))
    return ", ".join(parts)


def experience_points(count: int, embedder, rng: random.Random):
    """(points, numpy vectors, outcomes, importance) for `count` synthetic experiences."""
    import numpy as np

    from apps.common.clock import to_ms
    from apps.memory.services.long_term import MemoryPoint

    points, vectors, outcomes, importance = [], [], [], []
    for start in range(0, count, 1000):
        texts = [situation(rng) for _ in range(min(1000, count - start))]
        embedded = embedder.embed(texts)
        for offset, (text, vector) in enumerate(zip(texts, embedded, strict=True)):
            n = start + offset
            outcome = "success" if rng.random() < 0.55 else "failure"
            score = round(rng.random(), 2)
            moment = NOW - timedelta(minutes=rng.randint(0, 60 * 24 * 730))
            payload = {
                "id": f"exp_{n:07d}", "situation": text, "decision": rng.choice(["buy", "sell", "hold"]),
                "decision_reasoning": f"Acted on {text.split(',')[1].strip()} with a tight stop.",
                "outcome": outcome, "pnl": f"{rng.uniform(-500, 800):.8f}", "pnl_percentage": "1.2500",
                "reflection": "Entry was early; scaling in would have been better.",
                "lessons_learned": ["wait for confirmation", "size down into news"],
                "tags": rng.sample(TAGS, rng.randint(1, 3)), "importance_score": score,
                "symbol": text.split(" ")[0], "timestamp": to_ms(moment),
                "datetime": moment.isoformat().replace("+00:00", "Z"),
            }  # fmt: skip
            points.append(MemoryPoint(experience_id=payload["id"], vector=vector, payload=payload))
            vectors.append(vector)
            outcomes.append(outcome)
            importance.append(score)
    return points, np.asarray(vectors, dtype=np.float32), np.asarray(outcomes), np.asarray(importance)


def recall_at_10(backend, queries, vectors, mask, where) -> float:
    """Mean share of the exact filtered top 10 that the backend's top 10 finds (ties within 1e-6 count)."""
    import numpy as np

    unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    found = 0
    for query in queries:
        scores = unit @ (np.asarray(query, dtype=np.float32) / np.linalg.norm(query))
        scores[~mask] = -np.inf
        tenth = np.partition(scores, -10)[-10]
        hits = backend.search(vector=query, where=where, limit=10)
        index = {f"exp_{n:07d}": n for n in np.flatnonzero(scores >= tenth - 1e-6)}
        found += sum(1 for hit in hits if hit.experience_id in index)
    return found / (10 * len(queries))


def time_recall(queries, **filters) -> list[float]:
    from apps.memory.services.recall import memory_recall

    seconds = []
    for query in queries:
        started = time.perf_counter()
        hits = memory_recall(vector=query, limit=10, now=NOW, **filters)
        seconds.append(time.perf_counter() - started)
        expect(len(hits) == 10, "a recall found fewer than 10 experiences")
    return seconds


def main() -> None:
    arguments = parser(__doc__.splitlines()[0])
    arguments.add_argument("--points", type=int, default=100_000, help="Experiences stored (100,000).")
    arguments.add_argument("--queries", type=int, default=300, help="Recalls timed on Edge (300).")
    arguments.add_argument(
        "--baseline-queries", type=int, default=15, help="Recalls timed on local mode (15; each is slow)."
    )
    options = arguments.parse_args()
    results = Results(bench="memory_recall")

    setup_django_without_database()
    from django.conf import settings

    from apps.memory.services import embeddings, long_term
    from apps.memory.services.long_term import MemoryFilter
    from apps.memory.services.long_term.edge_backend import EdgeBackend
    from apps.memory.services.long_term.qdrant_backend import QdrantBackend

    rng = random.Random(20261101)
    embedder = embeddings.get_embedder()
    log(f"embedding {options.points:,} experiences ({embedder.name}, {embedder.dimension} dimensions)")
    points, vectors, outcomes, importance = experience_points(options.points, embedder, rng)
    queries = embedder.embed([situation(rng) for _ in range(options.queries)])
    where = MemoryFilter(outcome="success", min_importance=0.5)
    mask = (outcomes == "success") & (importance >= 0.5)
    every = MemoryFilter()
    everything = mask | True

    with tempfile.TemporaryDirectory(prefix="bench-edge-") as directory:
        settings.QDRANT_URL = ""
        settings.QDRANT_PATH = directory
        settings.QDRANT_EMBEDDED_ENGINE = "edge"
        long_term.reset_backend()
        long_term.collection_ensure()
        backend = long_term.get_backend()
        expect(isinstance(backend, EdgeBackend), "the embedded default is not Qdrant Edge")
        log(f"writing them into Qdrant Edge ({backend.description})")
        with timed() as loading:
            for start in range(0, len(points), 1000):
                backend.upsert(points[start : start + 1000])
            backend.optimize()
        load_seconds = loading()
        info = backend._open().info()
        log(f"loaded and indexed in {load_seconds:.0f} s: {info.segments_count} segments")
        time_recall(queries[:20], outcome="success", min_importance=0.5)  # warm up
        filtered = time_recall(queries, outcome="success", min_importance=0.5)
        unfiltered = time_recall(queries)
        edge_recall = recall_at_10(backend, queries[:100], vectors, mask, where)
        edge_recall_all = recall_at_10(backend, queries[:100], vectors, everything, every)
        long_term.reset_backend()

    log(
        f"the same points in qdrant-client's local mode (the previous default): "
        f"{options.baseline_queries} recalls"
    )
    settings.QDRANT_EMBEDDED_ENGINE = "local"
    settings.QDRANT_PATH = ":memory:"
    long_term.reset_backend()
    long_term.collection_ensure()
    local = long_term.get_backend()
    expect(isinstance(local, QdrantBackend), "local mode was not selected")
    for start in range(0, len(points), 1000):
        local.upsert(points[start : start + 1000])
    baseline_queries = queries[: options.baseline_queries]
    local_filtered = time_recall(baseline_queries, outcome="success", min_importance=0.5)
    local_recall = recall_at_10(local, baseline_queries[:5], vectors, mask, where)
    long_term.reset_backend()

    p95 = percentile(filtered, 95) * 1000
    local_p95 = percentile(local_filtered, 95) * 1000
    results.add(
        figure=(
            f"recall at {options.points:,} experiences, outcome + importance filters (embedding excluded)"
        ),
        result=(
            f"p95 {p95:.1f} ms, p50 {percentile(filtered, 50) * 1000:.1f} ms, "
            f"p99 {percentile(filtered, 99) * 1000:.1f} ms over {len(filtered)} recalls (Qdrant Edge)"
        ),
        baseline=(
            f"qdrant-client local mode p95 {local_p95:,.0f} ms, "
            f"p50 {percentile(local_filtered, 50) * 1000:,.0f} ms ({len(local_filtered)} recalls); "
            f"{local_p95 / p95:,.0f}x slower"
        ),
        target="p95 <= 25 ms",
        met=p95 <= 25,
        detail=(
            f"without filters: p95 {percentile(unfiltered, 95) * 1000:.1f} ms; load and HNSW build of "
            f"{options.points:,} points {load_seconds:.0f} s ({info.segments_count} segments)"
        ),
    )
    results.add(
        figure="recall@10 against the exact filtered top 10 (brute force)",
        result=f"{edge_recall:.3f} filtered, {edge_recall_all:.3f} unfiltered (100 queries, Qdrant Edge)",
        baseline=f"local mode {local_recall:.3f} (exact search)",
        target=">= 0.95",
        met=edge_recall >= 0.95 and edge_recall_all >= 0.95,
    )
    results.write(options.json)


if __name__ == "__main__":
    main()
