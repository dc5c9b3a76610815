"""Settings per environment: base (shared), dev, test, prod."""
