"""50 teammates click Accept on the same waiting session at the same moment, on PostgreSQL.

The 8-teammate race on the service is conversations/tests/test_handoff_concurrency.py; this
is the same race at the size of a team, through the inbox websocket's own action
(`inbox.ws_actions.accept`, what the socket runs for `{"type": "accept"}`), each teammate on
its own thread and database connection, released together by a barrier. The refusals are
turned into the error frame the socket would send, so what is asserted is what each
teammate's inbox shows.
"""

import pytest

from channels_gateway.tests.factories import ChannelConnectionFactory
from conversations.handoff_states import HandoffStatus
from conversations.models import AuthorKind, HandoffTrigger, Message
from conversations.services.handoff import handoff_escalate
from conversations.tests.factories import ConversationFactory
from conversations.tests.test_handoff_concurrency import run_at_once
from handoff_site.errors import DomainError
from inbox import ws_actions
from orgs.models import AuditAction, AuditEvent
from orgs.roles import Role
from orgs.tests.factories import OrganizationFactory, member

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.faults]

TEAM = 50


@pytest.fixture
def organization(db):
    return OrganizationFactory(plan="enterprise")  # seats for a team of 50


@pytest.fixture
def conversation(agent):
    return ConversationFactory(contact__connection=ChannelConnectionFactory(agent=agent))


def accept_as_the_socket_does(user, session_id: int, socket) -> dict:
    """The frame the inbox socket answers `{"type": "accept"}` with."""
    try:
        return {"type": "result", **ws_actions.accept(user, {"type": "accept", "session_id": session_id}, socket)}
    except DomainError as error:
        return {"type": "error", "action": "accept", **error.as_dict()}


def test_fifty_teammates_accept_at_once_one_wins_and_everyone_else_is_told_who(conversation, organization,
                                                                               fault_report):
    session = handoff_escalate(conversation_id=conversation.pk, trigger=HandoffTrigger.GUARD).session
    team = [member(organization, Role.AGENT, first_name=f"Mate{i:02d}", last_name="Test") for i in range(TEAM)]
    socket = ws_actions.Socket(organization, "test-channel")

    outcomes = run_at_once(*[(lambda user=user: accept_as_the_socket_does(user, session.pk, socket)) for user in team])

    crashed = [outcome for kind, outcome in outcomes if kind != "ok"]
    frames = [frame for kind, frame in outcomes if kind == "ok"]
    winners = [frame for frame in frames if frame["type"] == "result"]
    refusals = [frame for frame in frames if frame["type"] == "error"]
    session.refresh_from_db()
    joined = Message.objects.filter(conversation=conversation, author_kind=AuthorKind.SYSTEM,
                                    text__contains="has joined")
    audits = AuditEvent.objects.filter(organization=organization, action=AuditAction.HANDOFF_ACCEPTED)
    fault_report(
        scenario="50 teammates accept one session", load=f"{TEAM} accepts at once",
        faults="concurrent accepts on PostgreSQL", sent=1, stored=joined.count(),
        delivered=joined.filter(delivery_status="sent").count(), duplicated=max(joined.count() - 1, 0),
        lost=int(joined.count() == 0),
    )

    assert crashed == [] and len(winners) == 1 and len(refusals) == TEAM - 1
    winner = winners[0]["session"]["assigned_to"]
    assert session.status == HandoffStatus.ACTIVE and session.assigned_to_id == winner["id"]
    # Each of the 49 is told plainly who has it, not a generic failure.
    assert {frame["code"] for frame in refusals} == {"already_accepted"}
    assert all(frame["message"] == f"{winner['name']} already accepted this conversation."
               and frame["accepted_by"] == winner for frame in refusals)
    # One "… has joined" for the user, one timeline row, one audit event.
    assert joined.count() == 1 and winner["name"].split()[0] in joined.get().text
    assert session.transitions.filter(to_status=HandoffStatus.ACTIVE).count() == 1
    assert audits.count() == 1
