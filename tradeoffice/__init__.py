"""TradeOffice: the back-office of an LLM-driven crypto trading agent."""
