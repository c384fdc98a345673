"""Comparisons of schedulers on one scenario, and their renderings."""

from .compare import Comparison, Row, compare

__all__ = ["Comparison", "Row", "compare"]
