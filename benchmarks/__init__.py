"""Benchmarks of the bridge against the bound P·W·B/L and against two baselines, in one run.

`python -m benchmarks` (or `make bench`); see docs/benchmarks.md. Speed is
measured here and never in a timed test.
"""
