"""Stored markup in the server-rendered pages (Django admin, the inbox page, the demo page, the
reminder email): always escaped. The inbox's and widget's own rendering is checked in Chromium
(tests/browser/test_hostile_input_in_browser.py)."""

import re
from datetime import timedelta

import pytest
from django.core import mail
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from channels_gateway.tests.factories import ChannelConnectionFactory
from conversations.tests.factories import (
    AIAgentFactory,
    ContactFactory,
    ConversationFactory,
    HandoffSessionFactory,
    MessageFactory,
)
from inbox.models import CannedReply
from inbox.notifications import email_waiting_reminder
from orgs.roles import Role
from orgs.tests.factories import OrganizationFactory, UserFactory, member

pytestmark = pytest.mark.django_db

PAYLOADS = {
    "org": '<script>window.__xss="org"</script>',
    "agent": '<img src=x onerror="window.__xss=\'agent\'">',
    "connection": '<svg onload=alert("connection")>',
    "contact": '<img src=x onerror=alert("contact")>',
    "message": '<script>alert("message")</script>',
    "summary": '"><img src=x onerror=alert("summary")>',
    "canned": '<a href="javascript:alert(\'canned\')">x</a>',
    "teammate": "<b onmouseover=alert('teammate')>Ana</b>",
}


@pytest.fixture
def hostile_rows():
    org = OrganizationFactory(name="Acme " + PAYLOADS["org"])
    agent = AIAgentFactory(organization=org, name="Bot " + PAYLOADS["agent"])
    connection = ChannelConnectionFactory(agent=agent, name="Site " + PAYLOADS["connection"], config={"demo": True})
    contact = ContactFactory(connection=connection, display_name="Tess " + PAYLOADS["contact"])
    conversation = ConversationFactory(contact=contact)
    MessageFactory(conversation=conversation, text="Hello " + PAYLOADS["message"])
    session = HandoffSessionFactory(conversation=conversation, summary="Wants " + PAYLOADS["summary"])
    canned = CannedReply.objects.create(organization=org, title="Sorry " + PAYLOADS["canned"], text=PAYLOADS["canned"])
    teammate = member(org, Role.OWNER, first_name=PAYLOADS["teammate"], is_staff=True)
    return {"org": org, "agent": agent, "connection": connection, "conversation": conversation,
            "session": session, "canned": canned, "teammate": teammate}


def assert_escaped(html: str, where: str) -> None:
    for name, payload in PAYLOADS.items():
        assert payload not in html, f"{name} unescaped on {where}"
    # No element a payload could have made, whatever the escaping looked like.
    assert not re.search(r"<(img|svg)\b[^>]*\bon\w+=|<script>[^<]*__xss|<script>alert|href=\"javascript:", html), where


def admin_pages(rows) -> list[str]:
    return [
        "/admin/", "/admin/orgs/organization/", f"/admin/orgs/organization/{rows['org'].pk}/change/",
        "/admin/orgs/membership/", "/admin/conversations/aiagent/", f"/admin/conversations/aiagent/{rows['agent'].pk}/change/",
        "/admin/channels_gateway/channelconnection/",
        f"/admin/channels_gateway/channelconnection/{rows['connection'].pk}/change/",
        "/admin/conversations/conversation/", f"/admin/conversations/conversation/{rows['conversation'].pk}/change/",
        "/admin/conversations/handoffsession/", f"/admin/conversations/handoffsession/{rows['session'].pk}/change/",
        "/admin/inbox/cannedreply/", f"/admin/inbox/cannedreply/{rows['canned'].pk}/change/",
        f"/admin/inbox/cannedreply/{rows['canned'].pk}/delete/",
        "/admin/orgs/auditevent/",
    ]


def test_the_admin_escapes_every_stored_name_and_text(hostile_rows):
    client = Client()
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    for path in admin_pages(hostile_rows):
        response = client.get(path)
        assert response.status_code == 200, path
        assert_escaped(response.content.decode(), path)
    # …and shows them, as text.
    page = client.get(f"/admin/conversations/conversation/{hostile_rows['conversation'].pk}/change/").content.decode()
    assert "Hello &lt;script&gt;alert(&quot;message&quot;)&lt;/script&gt;" in page


def test_an_org_admin_sees_the_same_escaped_pages(hostile_rows):
    client = Client()
    client.force_login(hostile_rows["teammate"])
    for path in ["/admin/", "/admin/orgs/organization/", "/admin/orgs/membership/", "/admin/conversations/aiagent/",
                 "/admin/channels_gateway/channelconnection/", "/admin/inbox/cannedreply/"]:
        response = client.get(path)
        assert response.status_code == 200, path
        assert_escaped(response.content.decode(), path)


def test_the_inbox_and_demo_pages_escape_org_teammate_and_agent_names(hostile_rows):
    client = Client()
    client.force_login(hostile_rows["teammate"])
    inbox = client.get(reverse("inbox:home"))
    assert inbox.status_code == 200
    assert_escaped(inbox.content.decode(), "inbox")
    assert "Acme &lt;script&gt;" in inbox.content.decode()
    demo = client.get(reverse("demo"))
    assert_escaped(demo.content.decode(), "demo")
    assert "Bot &lt;img src=x" in demo.content.decode()


def test_the_reminder_email_escapes_contact_summary_and_names(hostile_rows, settings):
    session = hostile_rows["session"]
    email_waiting_reminder(session=session, recipients=["ana@example.test"],
                           now=session.queued_at + timedelta(minutes=4) if session.queued_at else timezone.now())
    html = next(content for content, mimetype in mail.outbox[-1].alternatives if mimetype == "text/html")
    assert_escaped(html, "reminder email")
    assert "Wants &quot;&gt;&lt;img" in html
