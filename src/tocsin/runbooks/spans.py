"""Line-range lookups: which items touch or contain a range, in logarithmic time.

The parser asks, for every block, whether any extracted item overlaps it (to keep
unclassified text), and the check extractor asks whether a statement lies inside an
alert; with thousands of both, pairwise tests would be quadratic.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable
from itertools import accumulate

from tocsin.runbooks.model import Lines


class LineIndex:
    def __init__(self, ranges: Iterable[Lines]) -> None:
        ordered = sorted(ranges)
        self._starts = [lo for lo, _ in ordered]
        self._max_end = list(accumulate((hi for _, hi in ordered), max))

    def _reach(self, start_at_most: int) -> int:
        """The furthest end among ranges starting at or before `start_at_most`."""
        i = bisect_right(self._starts, start_at_most)
        return self._max_end[i - 1] if i else 0

    def overlaps(self, lines: Lines) -> bool:
        return self._reach(lines[1]) >= lines[0]

    def contains(self, lines: Lines) -> bool:
        """Some range holds all of `lines`."""
        return self._reach(lines[0]) >= lines[1]
