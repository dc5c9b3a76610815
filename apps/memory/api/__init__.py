"""Experiences, recall and short-term memory for agents, all through the memory service."""
