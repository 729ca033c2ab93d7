"""Maze's benchmark suite (not tests): ``benchmarks/run.sh`` runs it; results go to docs/benchmarks.md."""
