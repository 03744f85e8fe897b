"""Readers, declarative per-source adapters, quality checks and the Parquet workspace."""
