"""The round trip every channel must pass, written once. A platform's test supplies how the
user speaks (a signed webhook through the test client) and what reached the fake platform.

Runs with the test settings' inline task queue: each step's tasks (the AI turn, the
outbound delivery) run when its transaction commits.
"""

from collections.abc import Callable
from dataclasses import dataclass

from conversations.handoff_states import HandoffStatus
from conversations.models import HandoffSession, Message
from conversations.services.handoff import handoff_accept, handoff_reply, handoff_resolve
from inbox.selectors import inbox_snapshot


@dataclass
class Channel:
    connection: object
    # Sends the user's text through the platform's webhook; returns the HTTP response.
    say: Callable[[str], object]
    # Texts the fake platform received for the user's chat/thread, oldest first.
    delivered: Callable[[], list[str]]


def run_round_trip(channel: Channel, *, teammate, capture) -> HandoffSession:
    """user message → AI reply delivered → "human please" → queued in the inbox with the
    right channel → accept and reply → the reply arrives → resolve → the user is told."""
    agent = channel.connection.agent

    with capture(execute=True):
        response = channel.say("Hello there")
    assert response.status_code == 200, response.content
    assert channel.delivered() == ["Hi! I'm {}. How can I help you today?".format(agent.name)]

    with capture(execute=True):
        channel.say("human please")
    session = HandoffSession.objects.get(conversation__connection=channel.connection)
    assert session.status == HandoffStatus.QUEUED
    assert channel.delivered()[-1] == agent.queued_message
    queued = inbox_snapshot(user=teammate, organization=channel.connection.organization)["sessions"]
    assert [(item["id"], item["channel"]) for item in queued] == [(session.pk, channel.connection.platform)]

    with capture(execute=True):
        handoff_accept(session_id=session.pk, user=teammate)
    assert channel.delivered()[-1] == agent.accepted_message.format(teammate=teammate.first_name)

    with capture(execute=True):
        handoff_reply(session_id=session.pk, user=teammate, text="Hi, I'm on it. What's your order number?")
    assert channel.delivered()[-1] == "Hi, I'm on it. What's your order number?"

    delivered_before = len(channel.delivered())
    with capture(execute=True):
        channel.say("It's 1234")
    assert len(channel.delivered()) == delivered_before  # the AI stays silent while a human holds it
    assert Message.objects.filter(conversation=session.conversation, text="It's 1234").exists()

    with capture(execute=True):
        handoff_resolve(session_id=session.pk, user=teammate)
    assert channel.delivered()[-1] == agent.resolved_message.format(teammate=teammate.first_name)
    outbound = Message.objects.filter(conversation=session.conversation).exclude(author_kind="user")
    assert {message.delivery_status for message in outbound} == {"sent"}
    return session
