"""Services of the operations commands, one module per concern."""
