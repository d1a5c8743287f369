"""What teammates do in the inbox beyond the handoff itself: presence, notes, transfer, typing."""

import contextlib
from collections.abc import Iterator

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from channels_gateway.adapters.registry import adapter_for
from conversations import events
from conversations.handoff_states import OPEN_STATUSES, HandoffStatus
from conversations.models import HandoffSession
from conversations.payloads import public_name
from conversations.services.handoff import handoff_transfer
from handoff_site.errors import ConflictError, NotFoundError, ValidationError
from inbox.models import InboxTab, InternalNote, PresenceState
from inbox.presence import TAB_TIMEOUT, presence_from
from inbox.selectors import note_payload, teammate
from orgs.models import Membership, Organization
from orgs.permissions import authorize
from orgs.roles import OrgPermission

MAX_NOTE = 20_000
# Channel names per heartbeat UPDATE: one statement stays small however many tabs a process holds.
HEARTBEAT_BATCH = 1000


def _publish_presence(*, organization_id: int, user_id: int) -> None:
    def publish():
        organization = Organization.objects.get(pk=organization_id)
        payload = teammate(organization=organization, user_id=user_id)
        if payload:
            events.send_inbox_event(organization_id, {"type": "presence.changed", "teammate": payload})

    transaction.on_commit(publish)


def _presence_now(*, organization_id: int, user_id: int) -> str:
    live = InboxTab.objects.filter(organization_id=organization_id, user_id=user_id,
                                   last_seen_at__gte=timezone.now() - TAB_TIMEOUT)
    return presence_from(list(live.values_list("state", flat=True)))


@contextlib.contextmanager
def _presence_change(*, organization_id: int, user_id: int) -> Iterator[None]:
    """Tell the org's inboxes only when what the block did to a member's tabs changed their
    presence: a second tab or a reload tells nobody (every tab of 2,000 open in one org used
    to send one event to all the others). The membership row lock orders one member's tabs
    opening and closing at once, so the later one compares against the earlier one's
    committed tab and a change is never missed."""
    with transaction.atomic():
        list(Membership.objects.select_for_update(no_key=True)
             .filter(organization_id=organization_id, user_id=user_id).values_list("pk", flat=True))
        before = _presence_now(organization_id=organization_id, user_id=user_id)
        yield
        if _presence_now(organization_id=organization_id, user_id=user_id) != before:
            _publish_presence(organization_id=organization_id, user_id=user_id)


def tab_open(*, user, organization: Organization, channel_name: str) -> None:
    with _presence_change(organization_id=organization.pk, user_id=user.pk):
        InboxTab.objects.update_or_create(
            channel_name=channel_name,
            defaults={"user": user, "organization": organization, "state": PresenceState.ACTIVE,
                      "last_seen_at": timezone.now()},
        )


def tabs_seen(*, channel_names: list[str]) -> None:
    """A web process's heartbeat for all its open tabs (inbox/tab_heartbeat.py). A tab that
    had gone stale (its process could not reach the database for a while) is back: the
    org's inboxes hear it."""
    now = timezone.now()
    for start in range(0, len(channel_names), HEARTBEAT_BATCH):
        batch = InboxTab.objects.filter(channel_name__in=channel_names[start:start + HEARTBEAT_BATCH])
        with transaction.atomic():
            came_back = set(batch.filter(last_seen_at__lt=now - TAB_TIMEOUT)
                            .values_list("organization_id", "user_id"))
            batch.update(last_seen_at=now)
            for organization_id, user_id in came_back:
                _publish_presence(organization_id=organization_id, user_id=user_id)


def tab_state(*, channel_name: str, state: str) -> None:
    if state not in PresenceState.values:
        raise ValidationError("state: must be active or idle.", code="invalid_input", field="state")
    tab = InboxTab.objects.filter(channel_name=channel_name).first()
    if tab is None or tab.state == state:
        return
    with _presence_change(organization_id=tab.organization_id, user_id=tab.user_id):
        InboxTab.objects.filter(pk=tab.pk).update(state=state, last_seen_at=timezone.now())


def tab_close(*, channel_name: str) -> None:
    tab = InboxTab.objects.filter(channel_name=channel_name).first()
    if tab is None:
        return
    with _presence_change(organization_id=tab.organization_id, user_id=tab.user_id):
        tab.delete()


def stale_tabs_sweep() -> int:
    """Tabs of a dead process never say goodbye: drop them and tell the inboxes."""
    stale = list(InboxTab.objects.filter(last_seen_at__lt=timezone.now() - TAB_TIMEOUT)
                 .values_list("pk", "organization_id", "user_id"))
    with transaction.atomic():
        InboxTab.objects.filter(pk__in=[pk for pk, _, _ in stale]).delete()
        for organization_id, user_id in {(org, user) for _, org, user in stale}:
            _publish_presence(organization_id=organization_id, user_id=user_id)
    return len(stale)


def note_add(*, session_id: int, user, text: str) -> dict:
    """An internal note: stays in the inbox, never reaches the user or the AI."""
    text = (text or "").strip()
    if not text:
        raise ValidationError("A note needs some text.", code="empty_message")
    if len(text) > MAX_NOTE:
        raise ValidationError(f"Notes are limited to {MAX_NOTE} characters.", code="message_too_long")
    session = HandoffSession.objects.select_related("organization").filter(pk=session_id).first()
    if session is None:
        raise NotFoundError("No such handoff session.")
    authorize(user, session.organization, OrgPermission.HANDLE_CONVERSATIONS)
    with transaction.atomic():
        note = InternalNote.objects.create(
            organization=session.organization, conversation_id=session.conversation_id, session=session,
            author=user, text=text,
        )
        payload = note_payload(note)
        events.publish_on_commit(session.organization_id, {"type": "message.created", "message": payload})
    return payload


def transfer_to_online_teammate(*, session_id: int, user, to_user_id: int) -> HandoffSession:
    session = HandoffSession.objects.select_related("organization").filter(pk=session_id).first()
    if session is None:
        raise NotFoundError("No such handoff session.")
    authorize(user, session.organization, OrgPermission.HANDLE_CONVERSATIONS)
    target = teammate(organization=session.organization, user_id=to_user_id)
    if target is None:
        raise NotFoundError("No such teammate in this organization.", code="not_found")
    if target["presence"] != "online":
        raise ConflictError(f"{target['name']} is not online.", code="not_online", presence=target["presence"])
    to_user = get_user_model().objects.get(pk=to_user_id)
    return handoff_transfer(session_id=session_id, user=user, to_user=to_user)


def teammate_typing(*, session_id: int, user) -> None:
    """Shown to the user where their channel can show it (the widget can)."""
    session = (
        HandoffSession.objects.select_related("organization", "conversation__connection")
        .filter(pk=session_id, status__in=OPEN_STATUSES).first()
    )
    if session is None:
        raise NotFoundError("No such handoff session.")
    authorize(user, session.organization, OrgPermission.HANDLE_CONVERSATIONS)
    if session.status != HandoffStatus.ACTIVE or session.assigned_to_id != user.pk:
        return
    conversation = session.conversation
    adapter_for(conversation.connection.platform).show_typing(
        conversation.connection, conversation.external_thread_id, public_name(user)
    )
