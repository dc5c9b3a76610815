"""Target 10: recall with the ONNX model: reindex 100,000 experiences in <= 15 min, recall p95 <= 25 ms with
the query's embedding, filters and hybrid on, and a gunicorn worker with the model loaded under 300 MB.

Synthetic trading situations (bench/memory_recall.py's generator) are written to a scratch PostgreSQL
database, then `memory_reindex(recreate=True)`, the service behind `manage.py reindex_memory --recreate`,
embeds them with all-MiniLM-L6-v2 (int8 ONNX, --threads intra-op threads) and writes them with their lexical
vectors into Qdrant Edge; the baseline is the same rebuild with the hashing embedder. Recall is timed
through `memory_recall(text=..., outcome="success", min_importance=0.5)`: the query's embedding (one
thread, a web worker's share), the hybrid search and the re-ranking; the baseline is the same recall with
hybrid off. Last, one production gunicorn worker opens the same collection, loads the model on its first
recall and serves recalls; its resident memory is read from /proc, beside a hello-world worker's.
"""

from __future__ import annotations

import os
import random
import secrets
import tempfile
import time
from pathlib import Path

from _common import Results, drop_database, expect, log, parser, percentile, setup_django, timed
from memory_recall import NOW, TAGS, situation

DATABASE = "bench_memory_onnx"


def write_experiences(count: int, rng: random.Random) -> None:
    from datetime import timedelta

    from apps.common.clock import to_ms
    from apps.memory.models import Experience

    for start in range(0, count, 5000):
        rows = []
        for n in range(start, min(count, start + 5000)):
            moment = NOW - timedelta(minutes=rng.randint(0, 60 * 24 * 730))
            text = situation(rng)
            rows.append(
                Experience(
                    id=f"exp_{n:07d}",
                    situation=text,
                    situation_tags=rng.sample(TAGS, rng.randint(1, 3)),
                    decision=rng.choice(["buy", "sell", "hold"]),
                    decision_reasoning="Acted with a tight stop.",
                    outcome="success" if rng.random() < 0.55 else "failure",
                    importance_score=rng.randint(0, 100) / 100,
                    lessons_learned=["wait for confirmation"],
                    symbol=text.split(" ")[0],
                    timestamp=to_ms(moment),
                    datetime=moment,
                )
            )
        Experience.objects.bulk_create(rows)
        log(f"  {min(count, start + 5000):,}/{count:,} experiences written to PostgreSQL")


def reindex(embedder: str, threads: int) -> tuple[float, float, int]:
    """(seconds of the rebuild, seconds of the HNSW build of what it left unindexed, experiences)."""
    from django.conf import settings

    from apps.memory.services import embeddings, long_term
    from apps.memory.services.consistency import memory_reindex

    settings.MEMORY_EMBEDDER = embedder
    settings.MEMORY_EMBEDDING_DIMENSION = None
    settings.MEMORY_ONNX_THREADS = threads
    embeddings.reset_embedder()
    long_term.reset_backend()

    def progress(pages, total, desc):
        for n, page in enumerate(pages, start=1):
            yield page
            if n % max(1, total // 10) == 0:
                log(f"  {embedder}: {n}/{total} {desc}")

    with timed() as elapsed:
        report = memory_reindex(recreate=True, batch_size=500, progress=progress)
    rebuild = elapsed()
    # reindex_memory leaves the last points (fewer than QDRANT_EDGE_INDEXING_THRESHOLD) to exact search;
    # the recalls below are timed on a fully indexed collection.
    with timed() as elapsed:
        long_term.get_backend().optimize()
    return rebuild, elapsed(), report.upserted


def time_recall(texts: list[str], *, hybrid: bool) -> list[float]:
    from apps.memory.services.recall import memory_recall

    seconds = []
    for text in texts:
        started = time.perf_counter()
        hits = memory_recall(
            text=text, outcome="success", min_importance=0.5, limit=10, hybrid=hybrid, now=NOW
        )
        seconds.append(time.perf_counter() - started)
        expect(len(hits) == 10, "a recall found fewer than 10 experiences")
    return seconds


def worker_footprint(recalls: int, texts: list[str]) -> tuple[dict, dict, dict]:
    """A production worker keeps its collection in a Qdrant server (production requires QDRANT_URL); here it
    gets an embedded collection of its own, empty, so what it holds is the app and the model, not the
    100,000 points' segments mapped in."""
    from api_writes import Client, free_port, server_environment, start_gunicorn, stop
    from cryptography.fernet import Fernet
    from footprint import HELLO, get, memory_mb, worker_pid

    from apps.agents.services import agent_create

    os.environ.setdefault("DJANGO_SECRET_KEY", secrets.token_urlsafe(64))
    os.environ.setdefault("FIELD_ENCRYPTION_KEYS", Fernet.generate_key().decode())
    token = agent_create(name="bench-onnx").token
    scratch = tempfile.mkdtemp(prefix="bench-worker-qdrant-")
    env = server_environment(DATABASE, scratch)
    env["MEMORY_EMBEDDER"] = "onnx"
    port = free_port()
    server = start_gunicorn(port=port, workers=1, threads=1, env=env)
    try:
        pid = worker_pid(server.pid)
        booted = memory_mb(pid)
        client = Client(port, token)
        client.post("/api/v1/memory/recall/", {"text": texts[0], "limit": 10})
        log(f"  after the first recall (the model loaded): {memory_mb(pid)}")
        for n in range(recalls):
            status, _ = client.post("/api/v1/memory/recall/", {"text": texts[n % len(texts)], "limit": 10})
            # The worker's collection is empty: the recall embeds and searches, and finds nothing.
            expect(status == 200, f"a recall answered {status}")
        served = memory_mb(pid)
        rollup = Path(f"/proc/{pid}/smaps_rollup").read_text().split()
        served["Anonymous"] = int(rollup[rollup.index("Anonymous:") + 1]) / 1024
    finally:
        stop(server)
    with tempfile.TemporaryDirectory(prefix="bench-hello-") as directory:
        (Path(directory) / "hello_wsgi.py").write_text(HELLO)
        env["PYTHONPATH"] = directory
        port = free_port()
        hello = start_gunicorn(port=port, workers=1, threads=1, env=env, app="hello_wsgi:application")
        try:
            hello_pid = worker_pid(hello.pid)
            for _ in range(50):
                get(Client(port, token), "/")
            floor = memory_mb(hello_pid)
        finally:
            stop(hello)
    return booted, served, floor


def main() -> None:
    arguments = parser(__doc__.splitlines()[0])
    arguments.add_argument("--experiences", type=int, default=100_000, help="Experiences (100,000).")
    arguments.add_argument("--queries", type=int, default=200, help="Recalls timed (200).")
    arguments.add_argument("--threads", type=int, default=2, help="ONNX threads while reindexing (2).")
    arguments.add_argument("--worker-recalls", type=int, default=100, help="Recalls through gunicorn (100).")
    options = arguments.parse_args()
    results = Results(bench="memory_onnx")

    setup_django(DATABASE)
    from django.conf import settings

    from apps.memory.services import embeddings, long_term

    rng = random.Random(20261202)
    try:
        with tempfile.TemporaryDirectory(prefix="bench-onnx-") as directory:
            settings.QDRANT_URL = ""
            settings.QDRANT_EMBEDDED_ENGINE = "edge"
            settings.QDRANT_PATH = directory
            log(f"writing {options.experiences:,} experiences")
            write_experiences(options.experiences, rng)

            log("reindex with the hashing embedder (baseline)")
            hashing_seconds, hashing_optimize, _ = reindex("hashing", 1)
            log(f"  {hashing_seconds:.0f} s, then {hashing_optimize:.0f} s to index the rest")
            log(f"reindex with the ONNX model on {options.threads} threads")
            onnx_seconds, onnx_optimize, indexed = reindex("onnx", options.threads)
            expect(indexed == options.experiences, f"{indexed} experiences indexed")
            log(f"  {onnx_seconds:.0f} s, then {onnx_optimize:.0f} s to index the rest")

            settings.MEMORY_ONNX_THREADS = 1  # a web worker's share for the query's embedding
            embeddings.reset_embedder()
            texts = [situation(rng) for _ in range(options.queries)]
            time_recall(texts[:20], hybrid=True)  # warm up: the model's first runs, the shard's pages
            hybrid = time_recall(texts, hybrid=True)
            dense = time_recall(texts, hybrid=False)
            long_term.reset_backend()  # the worker opens the directory next

            log(f"{options.worker_recalls} recalls through one gunicorn worker with the model")
            booted, served, floor = worker_footprint(options.worker_recalls, texts)
    finally:
        if not options.keep_db:
            drop_database(DATABASE)

    results.add(
        figure=f"reindex_memory --recreate of {options.experiences:,} experiences with the ONNX model",
        result=(
            f"{onnx_seconds / 60:.1f} min ({options.experiences / onnx_seconds:,.0f} experiences/s) on "
            f"{options.threads} threads: reading PostgreSQL, embedding, lexical vectors, Qdrant Edge with "
            f"the HNSW builds it makes on the way; indexing the last points after: {onnx_optimize:.0f} s"
        ),
        baseline=(
            f"the same rebuild with the hashing embedder: {hashing_seconds / 60:.1f} min "
            f"(+{hashing_optimize:.0f} s)"
        ),
        target="<= 15 min",
        met=onnx_seconds <= 15 * 60,
    )
    p95 = percentile(hybrid, 95) * 1000
    results.add(
        figure=(
            f"recall by text at {options.experiences:,} experiences, outcome + importance filters, "
            "hybrid on, the query's ONNX embedding included"
        ),
        result=(
            f"p95 {p95:.1f} ms, p50 {percentile(hybrid, 50) * 1000:.1f} ms, "
            f"p99 {percentile(hybrid, 99) * 1000:.1f} ms over {len(hybrid)} recalls"
        ),
        baseline=(
            f"hybrid off (dense only, same embedding): p95 {percentile(dense, 95) * 1000:.1f} ms, "
            f"p50 {percentile(dense, 50) * 1000:.1f} ms"
        ),
        target="p95 <= 25 ms",
        met=p95 <= 25,
    )
    results.add(
        figure="resident memory of a production gunicorn worker with the ONNX model loaded, serving recalls",
        result=(
            f"{served['VmRSS']:.0f} MB after {options.worker_recalls} recalls (anonymous "
            f"{served['Anonymous']:.0f} MB, the rest mapped files: libraries, the collection's segments); "
            f"{booted['VmRSS']:.0f} MB after "
            f"boot, before the model loads; peak {served['VmHWM']:.0f} MB"
        ),
        baseline=f"the same gunicorn worker serving a hello-world WSGI app: {floor['VmRSS']:.0f} MB",
        target="< 300 MB",
        met=served["VmRSS"] < 300,
    )
    results.write(options.json)


if __name__ == "__main__":
    main()
