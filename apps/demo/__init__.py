"""The demo world `make run` loads into an empty database, and the development login."""
