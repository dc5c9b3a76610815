"""The exchanges, read only: names and flags, never a credential."""
