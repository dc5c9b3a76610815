"""Errors of long-term memory, in one place so every layer raises and catches the same ones."""


class LongTermMemoryError(Exception):
    """Long-term memory failed: the vector store is unreachable or refused, or embedding failed."""


class EmbedderMismatchError(LongTermMemoryError):
    """The collection was built by another embedder or with another dimension."""


class EmbeddingError(LongTermMemoryError):
    """An embedder could not produce vectors (network, quota, a bad answer)."""
