"""The agent's decisions: what it saw, thought and chose."""
