"""Writes of the portfolio: snapshots (snapshots.py), cash flows (flows.py), conversion rates (rates.py)."""
