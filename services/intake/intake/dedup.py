"""Recently published event ids, so a resubmitted event is acknowledged without being published again.

This is the fast path only: it lives in one process and is bounded. The guarantee against duplicates is
downstream, where triage and followup remember processed event ids per patient.
"""

from __future__ import annotations

from collections import OrderedDict


class RecentIds:
    def __init__(self, capacity: int) -> None:
        self._capacity = capacity
        self._seen: OrderedDict[tuple[str, str], bytes] = OrderedDict()

    def lookup(self, source: str, event_id: str) -> bytes | None:
        """The content digest this id was published with, or None if not seen recently."""
        return self._seen.get((source, event_id))

    def remember(self, source: str, event_id: str, digest: bytes) -> None:
        if self._capacity == 0:
            return
        key = (source, event_id)
        self._seen[key] = digest
        self._seen.move_to_end(key)
        while len(self._seen) > self._capacity:
            self._seen.popitem(last=False)

    def __len__(self) -> int:
        return len(self._seen)
