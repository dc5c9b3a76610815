"""The memory benchmark's retrieval set (retrieval_set.json), read by services/evaluation.py."""
