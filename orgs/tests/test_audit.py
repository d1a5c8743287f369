"""The audit log: one line per listed action, with the actor, and never a credential's value."""

import json

import pytest
from django.db import transaction
from django.urls import reverse

from channels_gateway.models import ChannelConnection, Platform
from channels_gateway.services import connection_update_settings
from channels_gateway.tests.factories import ChannelConnectionFactory
from conversations.models import HandoffTrigger
from conversations.services.handoff import (
    handoff_accept,
    handoff_escalate,
    handoff_resolve,
    handoff_transfer,
)
from conversations.tests.factories import AIAgentFactory, ConversationFactory
from handoff_site.errors import ConflictError, PermissionDeniedError
from orgs.models import AuditAction, AuditEvent
from orgs.roles import Role
from orgs.services import membership_remove, membership_set_role
from orgs.tests.factories import (
    OrganizationFactory,
    UserFactory,
    member,
    operator,
    org_admin,
)

pytestmark = pytest.mark.django_db

BOT_TOKEN = "123456789:AAH-audit-token-not-real-0123456789"
SECRET_TOKEN = "audit-s3cret-token"


def events(organization, action):
    return list(AuditEvent.objects.filter(organization=organization, action=action))


def test_membership_changes_are_audited_with_the_actor(organization):
    boss = org_admin(organization, Role.OWNER)
    user = UserFactory(email="ana@example.com")
    membership_set_role(organization=organization, user=user, role=Role.AGENT, actor=boss)
    membership_set_role(organization=organization, user=user, role=Role.AGENT, actor=boss)  # no change
    membership_set_role(organization=organization, user=user, role=Role.VIEWER, actor=boss)
    membership_remove(organization=organization, user=user, actor=boss)

    added, = [event for event in events(organization, AuditAction.MEMBER_ADDED) if event.target == "ana@example.com"]
    assert added.actor == boss and added.details == {"role": "agent"}
    changed, = events(organization, AuditAction.MEMBER_ROLE_CHANGED)
    assert changed.target == "ana@example.com" and changed.details == {"from": "agent", "to": "viewer"}
    removed, = events(organization, AuditAction.MEMBER_REMOVED)
    assert removed.actor == boss and removed.details == {"role": "viewer"}


def test_typed_credentials_are_audited_by_field_name_only(organization):
    boss = org_admin(organization)
    connection = ChannelConnectionFactory(agent=AIAgentFactory(organization=organization), name="Support bot",
                                          platform=Platform.TELEGRAM, config={}, secrets={})
    connection_update_settings(connection=connection, secrets={"bot_token": BOT_TOKEN, "secret_token": ""},
                               config={}, actor=boss)
    connection_update_settings(connection=connection, secrets={"bot_token": ""}, config={}, actor=boss)

    event, = events(organization, AuditAction.CREDENTIALS_CHANGED)  # blank means "keep": not a change
    assert event.actor == boss
    assert event.target == "Telegram connection 'Support bot'"
    assert event.details == {"connection_id": connection.pk, "fields": ["bot_token"]}
    assert BOT_TOKEN not in json.dumps(event.details) + event.target


def test_the_connection_admin_audits_credentials_without_their_values(client, organization):
    boss = org_admin(organization)
    agent = AIAgentFactory(organization=organization)
    client.force_login(boss)
    response = client.post(reverse("admin:channels_gateway_channelconnection_add"), {
        "organization": organization.pk, "agent": agent.pk, "platform": Platform.TELEGRAM, "name": "Support bot",
        "is_active": "on", "config": "{}",
        "secret__telegram__bot_token": BOT_TOKEN, "secret__telegram__secret_token": SECRET_TOKEN,
    })
    assert response.status_code == 302, response.content.decode()[:3000]
    event, = events(organization, AuditAction.CREDENTIALS_CHANGED)
    assert event.actor == boss
    assert event.details["fields"] == ["bot_token", "secret_token"]

    page = client.get(reverse("admin:orgs_auditevent_change", args=[event.pk])).content.decode()
    listing = client.get(reverse("admin:orgs_auditevent_changelist")).content.decode()
    for html in (page, listing):
        assert BOT_TOKEN not in html and SECRET_TOKEN not in html
    assert "bot_token" in page
    for row in AuditEvent.objects.values("target", "details"):
        assert BOT_TOKEN not in json.dumps(row) and SECRET_TOKEN not in json.dumps(row)
    assert ChannelConnection.objects.get().secrets["bot_token"] == BOT_TOKEN


def test_accept_transfer_and_resolve_are_audited(organization, django_capture_on_commit_callbacks):
    ana = member(organization, Role.AGENT, username="ana")
    ben = member(organization, Role.AGENT, username="ben")
    connection = ChannelConnectionFactory(agent=AIAgentFactory(organization=organization))
    conversation = ConversationFactory(contact__connection=connection)
    with django_capture_on_commit_callbacks(execute=True):
        session = handoff_escalate(conversation_id=conversation.pk, trigger=HandoffTrigger.GUARD).session
        handoff_accept(session_id=session.pk, user=ana)
        handoff_transfer(session_id=session.pk, user=ana, to_user=ben)
        handoff_resolve(session_id=session.pk, user=ben)

    target = f"handoff {session.pk}"
    accepted, = events(organization, AuditAction.HANDOFF_ACCEPTED)
    transferred, = events(organization, AuditAction.HANDOFF_TRANSFERRED)
    resolved, = events(organization, AuditAction.HANDOFF_RESOLVED)
    assert (accepted.actor, accepted.target) == (ana, target)
    assert transferred.actor == ana and transferred.details["to_user_id"] == ben.pk
    assert (resolved.actor, resolved.target) == (ben, target)
    assert accepted.details["conversation_id"] == conversation.pk


def test_a_refused_transition_leaves_no_audit_line(organization, django_capture_on_commit_callbacks):
    ana = member(organization, Role.AGENT)
    viewer = member(organization, Role.VIEWER)
    connection = ChannelConnectionFactory(agent=AIAgentFactory(organization=organization))
    conversation = ConversationFactory(contact__connection=connection)
    with django_capture_on_commit_callbacks(execute=True):
        session = handoff_escalate(conversation_id=conversation.pk, trigger=HandoffTrigger.GUARD).session
    with pytest.raises(PermissionDeniedError), transaction.atomic():
        handoff_accept(session_id=session.pk, user=viewer)
    handoff_accept(session_id=session.pk, user=ana)
    with pytest.raises(ConflictError), transaction.atomic():
        handoff_accept(session_id=session.pk, user=ana)
    assert len(events(organization, AuditAction.HANDOFF_ACCEPTED)) == 1


def test_the_audit_log_is_read_only_and_scoped(client):
    org_a, org_b = OrganizationFactory(name="Alpha Org"), OrganizationFactory(name="Bravo Org")
    admin_a = org_admin(org_a)
    org_admin(org_b, username="bravo-boss")
    event_a = AuditEvent.objects.filter(organization=org_a).first()
    event_b = AuditEvent.objects.filter(organization=org_b).first()

    client.force_login(admin_a)
    listing = client.get(reverse("admin:orgs_auditevent_changelist")).content.decode()
    assert "bravo-boss" not in listing
    assert client.get(reverse("admin:orgs_auditevent_add")).status_code == 403
    page = client.get(reverse("admin:orgs_auditevent_change", args=[event_a.pk]))
    assert page.status_code == 200 and 'name="target"' not in page.content.decode()
    client.post(reverse("admin:orgs_auditevent_change", args=[event_a.pk]), {"target": "rewritten"})
    client.post(reverse("admin:orgs_auditevent_delete", args=[event_a.pk]), {"post": "yes"})
    event_a.refresh_from_db()
    assert event_a.target != "rewritten"
    response = client.get(reverse("admin:orgs_auditevent_change", args=[event_b.pk]), follow=True)
    assert "doesn’t exist" in response.content.decode()

    client.force_login(operator())
    listing = client.get(reverse("admin:orgs_auditevent_changelist")).content.decode()
    assert "bravo-boss" in listing or "Bravo Org" in listing
    assert client.get(reverse("admin:orgs_auditevent_add")).status_code == 403
    client.post(reverse("admin:orgs_auditevent_delete", args=[event_b.pk]), {"post": "yes"})
    assert AuditEvent.objects.filter(pk=event_b.pk).exists()
