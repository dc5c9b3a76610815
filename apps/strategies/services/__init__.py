"""Strategy services: activation, performance metrics."""
