"""Settings for Qdrant beyond one process: a distributed cluster, and the embedded vector engine used when
there is no Qdrant server. docs/scaling.md explains each. (The database pool, the read replica and Redis
Sentinel complete the connection settings in base.py, with the helpers of tradeoffice.connections.)
"""

from __future__ import annotations

import environ
from django.core.exceptions import ImproperlyConfigured

_env = environ.Env()

# --- Qdrant: a distributed cluster ----------------------------------------------------------------
# Used when the collection is created on a server (init_databases, reindex_memory --recreate);
# unset, the server's defaults (one shard, no replica). Changing them later needs a recreate.
QDRANT_SHARD_NUMBER = _env.int("QDRANT_SHARD_NUMBER", default=None)
QDRANT_REPLICATION_FACTOR = _env.int("QDRANT_REPLICATION_FACTOR", default=None)
QDRANT_WRITE_CONSISTENCY_FACTOR = _env.int("QDRANT_WRITE_CONSISTENCY_FACTOR", default=None)

# --- Qdrant without a server ----------------------------------------------------------------------
# QDRANT_URL unset: "edge" = Qdrant Edge in-process (HNSW graph and payload indexes; data under
# QDRANT_PATH/edge/), "local" = qdrant-client's local mode (every search a full scan in Python).
QDRANT_EMBEDDED_ENGINE = _env("QDRANT_EMBEDDED_ENGINE", default="edge")
if QDRANT_EMBEDDED_ENGINE not in ("edge", "local"):
    raise ImproperlyConfigured(
        f"QDRANT_EMBEDDED_ENGINE is {QDRANT_EMBEDDED_ENGINE!r}; use 'edge' or 'local'."
    )
# The HNSW graph: links per point, candidates while building, candidates while searching.
QDRANT_EDGE_HNSW_M = _env.int("QDRANT_EDGE_HNSW_M", default=16)
QDRANT_EDGE_HNSW_EF_CONSTRUCT = _env.int("QDRANT_EDGE_HNSW_EF_CONSTRUCT", default=128)
QDRANT_EDGE_HNSW_EF = _env.int("QDRANT_EDGE_HNSW_EF", default=128)
# Points written since the last index build that make the next write build it (searched exactly until then).
QDRANT_EDGE_INDEXING_THRESHOLD = _env.int("QDRANT_EDGE_INDEXING_THRESHOLD", default=20_000)
# Payloads read into memory when the collection opens (faster first recalls after a rebuild, about 30 MB
# more resident at once); fixed when the collection is created (docs/memory.md, Performance).
QDRANT_EDGE_PAYLOAD_IN_MEMORY = _env.bool("QDRANT_EDGE_PAYLOAD_IN_MEMORY", default=False)
