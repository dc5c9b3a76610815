"""Execution: orders, trades and positions as the exchanges report them."""
