"""Pieces shared by several apps (not an app itself)."""
