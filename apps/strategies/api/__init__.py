"""Strategies and their performance metrics, read only: agents read the active version by name."""
