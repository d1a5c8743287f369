"""Every inbox request, as each role of org A and as the owner of org B: what a role may do
works, everything else is refused, and nothing of org A reaches org B."""

import json

import pytest
from channels.db import database_sync_to_async

from channels_gateway.tests.factories import ChannelConnectionFactory
from conversations.models import AuthorKind, DeliveryStatus, HandoffSession, Message
from conversations.services.handoff import handoff_escalate
from conversations.tests.factories import AIAgentFactory, ContactFactory, ConversationFactory
from orgs.roles import ROLE_PERMISSIONS, OrgPermission, Role
from orgs.tests.factories import OrganizationFactory, member
from tests.sockets import open_inbox, receive_until

pytestmark = pytest.mark.django_db(transaction=True)

SECRET_CONTACT = "Zelda Confidential"
SECRET_SUMMARY = "order 7777 for Zelda"


def org_a_with_a_waiting_customer():
    org = OrganizationFactory(name="Org A", plan="pro")
    connection = ChannelConnectionFactory(agent=AIAgentFactory(organization=org))
    conversation = ConversationFactory(contact=ContactFactory(connection=connection, display_name=SECRET_CONTACT))
    session = handoff_escalate(conversation_id=conversation.pk, trigger="guard", reason="human please",
                               summary=SECRET_SUMMARY).session
    failed = Message.objects.create(organization=org, conversation=conversation, author_kind=AuthorKind.SYSTEM,
                                    text="notice", delivery_status=DeliveryStatus.FAILED, delivery_error="gone")
    return org, session, failed


async def ask(inbox, frame: dict) -> dict | None:
    request_id = f"{frame['type']}-{id(frame)}"
    await inbox.send_json_to({**frame, "request_id": request_id})
    return await receive_until(inbox, lambda f: f.get("request_id") == request_id)


def requests_for(session_id: int, message_id: int, other_user_id: int) -> list[dict]:
    return [
        {"type": "transcript", "session_id": session_id},
        {"type": "accept", "session_id": session_id},
        {"type": "note", "session_id": session_id, "text": "a note"},
        {"type": "reply", "session_id": session_id, "text": "a reply"},
        {"type": "retry_delivery", "message_id": message_id},
        {"type": "transfer", "session_id": session_id, "to_user_id": other_user_id},
        {"type": "resolve", "session_id": session_id},
    ]


@pytest.mark.parametrize("role", list(Role))
async def test_each_role_of_the_org_gets_exactly_what_it_may_do(role):
    org, session, failed = await database_sync_to_async(org_a_with_a_waiting_customer)()
    user = await database_sync_to_async(member)(org, role)
    offline_colleague = await database_sync_to_async(member)(org, Role.AGENT)
    inbox, snapshot = await open_inbox(user, org)
    assert [s["id"] for s in snapshot["sessions"]] == [session.pk]
    may_handle = OrgPermission.HANDLE_CONVERSATIONS in ROLE_PERMISSIONS[role]
    assert snapshot["me"]["can_handle"] is may_handle

    answers = {}
    for frame in requests_for(session.pk, failed.pk, offline_colleague.pk):
        answers[frame["type"]] = await ask(inbox, frame)
    assert answers["transcript"]["type"] == "result"
    if may_handle:
        assert {kind: answer.get("code", answer["type"]) for kind, answer in answers.items()} == {
            "transcript": "result", "accept": "result", "note": "result", "reply": "result",
            "retry_delivery": "result", "transfer": "not_online", "resolve": "result",
        }
    else:
        refused = {kind: answer["code"] for kind, answer in answers.items() if kind != "transcript"}
        assert set(refused.values()) == {"permission_denied"}
    # History lists closed sessions: those who could resolve it find it there.
    history = await ask(inbox, {"type": "history"})
    assert [s["id"] for s in history["sessions"]] == ([session.pk] if may_handle else [])
    await inbox.disconnect()


async def test_a_member_of_another_org_gets_not_found_for_everything_and_learns_nothing():
    org, session, failed = await database_sync_to_async(org_a_with_a_waiting_customer)()
    insider = await database_sync_to_async(member)(org, Role.AGENT)
    org_b = await database_sync_to_async(OrganizationFactory)(name="Org B", plan="enterprise")
    outsider = await database_sync_to_async(member)(org_b, Role.OWNER)
    inbox, snapshot = await open_inbox(outsider, org_b)

    heard = [snapshot]
    for frame in requests_for(session.pk, failed.pk, insider.pk):
        answer = await ask(inbox, frame)
        assert answer["type"] == "error" and answer["code"] == "not_found", answer
        heard.append(answer)
    heard.append(await ask(inbox, {"type": "history", "query": "Zelda"}))
    await inbox.send_json_to({"type": "typing", "session_id": session.pk})
    heard.append(await receive_until(inbox, lambda f: f["type"] == "error"))
    everything = json.dumps(heard)
    assert SECRET_CONTACT not in everything and SECRET_SUMMARY not in everything and "Org A" not in everything
    assert await database_sync_to_async(HandoffSession.objects.filter(pk=session.pk, status="queued").exists)()
    await inbox.disconnect()
