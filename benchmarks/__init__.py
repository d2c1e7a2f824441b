"""futures_settle against the stdlib, side by side in one process: ``python -m benchmarks``."""
