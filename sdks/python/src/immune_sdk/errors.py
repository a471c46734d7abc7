"""What the reporter tells ``on_error`` about."""

from __future__ import annotations

from typing import Optional, Sequence


class ReporterError(Exception):
    """Vitals the reporter had to give up on (refused by ingest, undeliverable after every attempt, or pushed
    out of a full queue), or a refused registration.

    ``vital_ids`` lists the dropped vitals (empty for a registration); ``status`` is ingest's HTTP status when it
    answered, None for network errors and timeouts."""

    def __init__(self, message: str, vital_ids: Sequence[str], status: Optional[int] = None) -> None:
        super().__init__(message)
        self.vital_ids = tuple(vital_ids)
        self.status = status
