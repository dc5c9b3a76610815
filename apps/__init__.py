"""TradeOffice's Django apps, one per concern."""
