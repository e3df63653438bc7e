"""Benchmarks of issue 7 (not tests): each `bench/<name>.py` builds its own data and prints ratios from one run."""
