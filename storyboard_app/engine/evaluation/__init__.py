"""Evaluations of rendered stories against published benchmarks (ConsiStory+)."""
