"""Shared machine learning: metrics, fingerprints, lazy heavy imports, the model registry."""
