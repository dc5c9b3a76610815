"""The agent's memory: experiences in PostgreSQL, Redis short-term and Qdrant long-term memory."""
