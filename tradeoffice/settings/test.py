"""Test settings: the real PostgreSQL and Redis (DATABASE_URL/REDIS_URL, or the embedded ones)."""

from .base import *  # noqa: F403
from .base import env

DEBUG = False
SECRET_KEY = "test-only-secret-key-not-for-any-deployment"  # noqa: S105
FIELD_ENCRYPTION_KEYS = env.list(
    "FIELD_ENCRYPTION_KEYS",
    default=["kXWxfqFWyKdVbIV9f4aJtSxOBO0E6g3E4wD4hVJNVvM="],
)
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
QDRANT_URL = ""
QDRANT_PATH = ":memory:"
# The fast offline embedder; the ONNX model runs in the tests that ask for it (tests/memory/test_onnx*.py).
MEMORY_EMBEDDER = "hashing"
