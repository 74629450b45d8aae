"""kit's benchmark suite: `make bench` (python -m bench) writes bench/results.md and .json.

Each measurement is one module (m1_overhead ... m7_size) that returns a Section: figures
with their targets, details, the exact command lines, and where the time goes when a
target is missed. Comparisons alternate their commands within one run, so machine
noise hits every side alike.
"""
