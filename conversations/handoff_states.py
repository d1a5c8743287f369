"""The handoff state machine, declared once. Only `services.handoff` writes a status."""

from django.db import models


class HandoffStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    ACTIVE = "active", "Active"
    RESOLVED = "resolved", "Resolved"
    EXPIRED = "expired", "Expired"
    CANCELLED = "cancelled", "Cancelled"


OPEN_STATUSES = frozenset({HandoffStatus.QUEUED, HandoffStatus.ACTIVE})

# None is "no session yet": creating a session is the transition None -> queued.
ALLOWED_TRANSITIONS: dict[str | None, frozenset[str]] = {
    None: frozenset({HandoffStatus.QUEUED}),
    HandoffStatus.QUEUED: frozenset({HandoffStatus.ACTIVE, HandoffStatus.EXPIRED, HandoffStatus.CANCELLED}),
    # active -> active is a transfer to another teammate: recorded on the timeline like the rest.
    HandoffStatus.ACTIVE: frozenset({HandoffStatus.ACTIVE, HandoffStatus.RESOLVED, HandoffStatus.CANCELLED}),
    HandoffStatus.RESOLVED: frozenset(),
    HandoffStatus.EXPIRED: frozenset(),
    HandoffStatus.CANCELLED: frozenset(),
}


def can_transition(from_status: str | None, to_status: str) -> bool:
    return to_status in ALLOWED_TRANSITIONS.get(from_status, frozenset())
