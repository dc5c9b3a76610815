"""Settings of the servers the benchmarks start: production's, plus the plain DRF endpoints they compare with.

DATABASE_URL, REDIS_URL, the secrets and the limits come from the environment the benchmark sets.
Production insists on a Qdrant server; there is none here, so the servers use the embedded engine, in
one worker where long-term memory is exercised (footprint.py) and not at all in api_writes.py.
"""

import os

os.environ.setdefault("QDRANT_URL", "http://qdrant.invalid:6333")  # satisfies production's check only

from tradeoffice.settings.prod import *  # noqa: F403

QDRANT_URL = ""
ROOT_URLCONF = "bench_urls"
