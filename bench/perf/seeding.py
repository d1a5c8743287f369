"""Runs inside the product (`manage.py shell -c`, see Stack.human_threads): conversations
with a queued handoff, set up through the product's own services.

Prints one JSON line: [{"thread_id", "conversation_id", "session_id"}].
"""

import json

from channels_gateway.models import ChannelConnection
from conversations.models import Contact, Conversation, HandoffTrigger
from conversations.services.handoff import handoff_escalate


def escalate_threads(arguments: str) -> None:
    options = json.loads(arguments)
    connection = ChannelConnection.objects.get(platform=options["platform"], config__demo=True)
    created = []
    for thread_id in options["threads"]:
        # A private chat: the contact and the thread are the same id (as the adapters map them).
        contact, _ = Contact.objects.get_or_create(
            connection=connection, external_id=thread_id,
            defaults={"organization_id": connection.organization_id, "display_name": options["contact_name"]},
        )
        conversation, _ = Conversation.objects.get_or_create(
            connection=connection, external_thread_id=thread_id,
            defaults={"organization_id": connection.organization_id, "agent_id": connection.agent_id,
                      "contact": contact},
        )
        result = handoff_escalate(conversation_id=conversation.pk, trigger=HandoffTrigger.GUARD,
                                  reason="Benchmark: the user asked for a human.")
        if result.session is None:
            raise SystemExit(f"escalation refused: {result.refused}")
        created.append({"thread_id": thread_id, "conversation_id": conversation.pk, "session_id": result.session.pk})
    print(json.dumps(created))
