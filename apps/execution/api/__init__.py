"""Orders, trades and positions for agents: ccxt's unified structures in, the seed's rows out."""
