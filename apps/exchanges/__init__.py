"""Exchanges and their encrypted API credentials."""
