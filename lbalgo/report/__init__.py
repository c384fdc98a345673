"""Comparisons of schedulers on one scenario, and their renderings."""

from .compare import Comparison, ComparisonRun, Row, compare

__all__ = ["Comparison", "ComparisonRun", "Row", "compare"]
