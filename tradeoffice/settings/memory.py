"""Settings of the agent's memory (Redis short-term, Qdrant long-term, embeddings)."""
