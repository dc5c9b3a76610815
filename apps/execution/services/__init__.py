"""Writes of orders, trades and positions: one module per entity."""
