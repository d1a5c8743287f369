"""What the plan decides on its own schedule: old transcripts leave when the plan says so."""

from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from billing.entitlements import transcript_retention_days
from conversations.handoff_states import OPEN_STATUSES
from conversations.models import Conversation, HandoffSession
from orgs.models import Organization


def retention_apply(*, now=None) -> int:
    """Delete conversations (messages, sessions, notes, verdicts with them) whose last message
    is older than the org's plan keeps. One with an open handoff is never touched."""
    now = now or timezone.now()
    deleted = 0
    for organization in Organization.objects.all():
        days = transcript_retention_days(organization=organization)
        if days is None:
            continue
        with transaction.atomic():
            expired = Conversation.objects.filter(
                organization=organization, last_message_at__lt=now - timedelta(days=days),
            ).exclude(pk__in=HandoffSession.objects.filter(status__in=OPEN_STATUSES).values("conversation_id"))
            deleted += expired.delete()[1].get("conversations.Conversation", 0)
    return deleted
