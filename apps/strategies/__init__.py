"""Strategies (versioned configurations) and their performance metrics."""
