"""perfctl's benchmarks: what perfctl costs on top of k6, how far one machine goes, and
how fast the gate answers. Run with `bench/run` (or `python -m bench`); never a test.

Every figure is a ratio against a baseline measured in the same run, A and B
alternating, reported as the median with its spread (see stats.py)."""
