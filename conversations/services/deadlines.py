"""Nobody is left waiting: the one reminder and the graceful expiry of queued handoffs."""

import logging
from datetime import timedelta

from django.utils import timezone

from billing.entitlements import can_send_email_reminders
from channels_gateway.selectors import due_delivery_ids
from conversations.models import HandoffSession
from conversations.selectors import overdue_session_ids, unanswered_message_ids
from conversations.services.agent_turn import STALE_TURN
from conversations.services.handoff import claim_reminder, handoff_expire_if_due, release_reminder
from handoff_site.task_queue import enqueue
from inbox.notifications import email_waiting_reminder
from orgs.selectors import teammates_who_may_accept

logger = logging.getLogger(__name__)


def send_reminder_if_due(*, session_id: int) -> bool:
    """One email to the teammates who may accept, if the session still waits. Accepted: nothing."""
    now = timezone.now()
    if not claim_reminder(session_id=session_id, now=now):
        return False
    session = HandoffSession.objects.select_related(
        "organization", "conversation__contact", "conversation__agent", "conversation__connection"
    ).get(pk=session_id)
    if not can_send_email_reminders(organization=session.organization).allowed:
        return False
    recipients = [user.email for user in teammates_who_may_accept(session.organization) if user.email]
    if not recipients:
        return False
    try:
        email_waiting_reminder(session=session, recipients=recipients, now=now)
    except Exception:
        release_reminder(session_id=session_id)
        raise
    return True


def expire_if_due(*, session_id: int) -> bool:
    return handoff_expire_if_due(session_id=session_id)


def sweep() -> dict:
    """Once a minute: whatever a lost task or a dead worker left undone is done now."""
    now = timezone.now()
    to_remind, to_expire = overdue_session_ids(now=now)
    reminded = sum(1 for session_id in to_remind if _safely(send_reminder_if_due, session_id=session_id))
    expired = sum(1 for session_id in to_expire if _safely(expire_if_due, session_id=session_id))
    unanswered = unanswered_message_ids(pending_before=now - timedelta(seconds=30), started_before=now - STALE_TURN)
    for message_id in unanswered:
        enqueue("conversations.tasks.run_agent_turn", message_id)
    deliveries = due_delivery_ids()
    for message_id in deliveries:
        enqueue("channels_gateway.tasks.deliver_message", message_id)
    return {"reminded": reminded, "expired": expired, "ai_turns": len(unanswered), "deliveries": len(deliveries)}


def _safely(func, **kwargs) -> bool:
    try:
        return func(**kwargs)
    except Exception:
        logger.exception("%s failed for %s", func.__name__, kwargs)
        return False
