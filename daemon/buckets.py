"""A histogram kept as cumulative bucket counts (Prometheus' shape), cheap enough to update on
every store commit; ``/metrics`` reads it (daemon/metrics.py)."""

from __future__ import annotations

from collections.abc import Sequence


class Buckets:
    __slots__ = ("bounds", "count", "counts", "total")

    def __init__(self, bounds: Sequence[float]) -> None:
        self.bounds = tuple(bounds)
        self.counts = [0] * len(self.bounds)
        self.count = 0
        self.total = 0.0

    def observe(self, value: float) -> None:
        for i, bound in enumerate(self.bounds):
            if value <= bound:
                self.counts[i] += 1
        self.count += 1
        self.total += value

    def pairs(self) -> list[tuple[str, float]]:
        """``(le, cumulative count)`` pairs, ``+Inf`` last."""
        return [(f"{b:g}", float(n)) for b, n in zip(self.bounds, self.counts, strict=True)] + \
            [("+Inf", float(self.count))]
