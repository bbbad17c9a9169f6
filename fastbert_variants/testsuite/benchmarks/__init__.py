"""Latency, padding strategies and serving of every variant, timed with pytest-benchmark."""
