"""System events: what happened to the system, by type and severity."""
