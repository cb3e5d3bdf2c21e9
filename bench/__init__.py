"""Benchmarks: each prints its numbers next to the baseline it is compared with, measured in the same run."""
