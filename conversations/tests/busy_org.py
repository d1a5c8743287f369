"""An organization that grows: N of every row an inbox or API list shows, for tests that
check a read costs the same number of queries with 2 rows as with 30."""

from datetime import timedelta

from django.utils import timezone

from channels_gateway.models import Platform
from channels_gateway.tests.factories import ChannelConnectionFactory
from conversations.models import AuthorKind
from conversations.tests.factories import AIAgentFactory, ConversationFactory, HandoffSessionFactory, MessageFactory
from inbox.models import CannedReply, InboxTab, InternalNote
from orgs.roles import Role
from orgs.tests.factories import member

PLATFORMS = [Platform.TELEGRAM, Platform.WIDGET, Platform.SLACK]


class BusyOrg:
    def __init__(self, organization):
        organization.plan = "enterprise"  # no seat limit
        organization.save(update_fields=["plan"])
        self.organization = organization
        self.size = 0
        self.teammates = []
        self.conversations = []
        self.chat = None  # the first waiting conversation: it gets messages and notes at every step

    def grow_to(self, size: int) -> None:
        """`size` of each: teammates (with an open tab), canned replies, AI agents, channels, and
        conversations with waiting, live and closed sessions and messages of every author kind."""
        for index in range(self.size, size):
            self._add(index)
        self.size = max(self.size, size)

    def _add(self, index: int) -> None:
        organization = self.organization
        teammate = member(organization, Role.AGENT, username=f"busy{organization.pk}-{index}")
        self.teammates.append(teammate)
        InboxTab.objects.create(user=teammate, organization=organization, channel_name=f"busy.{teammate.pk}",
                                last_seen_at=timezone.now())
        CannedReply.objects.create(organization=organization, title=f"Reply {index}", text="Thanks for waiting.")
        connection = ChannelConnectionFactory(agent=AIAgentFactory(organization=organization),
                                              platform=PLATFORMS[index % len(PLATFORMS)])
        queued_at = timezone.now() - timedelta(minutes=index)
        for status in ("queued", "active", "resolved"):
            conversation = ConversationFactory(contact__connection=connection, mode="ai" if status == "resolved"
                                               else "human")
            self.conversations.append(conversation)
            closed = status == "resolved"
            HandoffSessionFactory(
                conversation=conversation, status=status, queued_at=queued_at,
                assigned_to=teammate if status != "queued" else None,
                accepted_at=queued_at + timedelta(seconds=30) if status != "queued" else None,
                closed_at=queued_at + timedelta(minutes=5) if closed else None,
            )
            MessageFactory(conversation=conversation, text=f"where is my parcel {index}?")
            MessageFactory(conversation=conversation, author_kind=AuthorKind.AI, delivery_status="sent",
                           text="Let me check that for you.")
            MessageFactory(conversation=conversation, author_kind=AuthorKind.SYSTEM, delivery_status="sent",
                           text="I'm bringing in a member of our team.")
            MessageFactory(conversation=conversation, author_kind=AuthorKind.TEAMMATE, author_user=teammate,
                           delivery_status="sent", text="Hi, I'm on it.")
        self.chat = self.chat or self.conversations[0]
        for kind in (AuthorKind.USER, AuthorKind.AI, AuthorKind.TEAMMATE, AuthorKind.SYSTEM):
            MessageFactory(conversation=self.chat, author_kind=kind, delivery_status="sent",
                           author_user=teammate if kind == AuthorKind.TEAMMATE else None)
        InternalNote.objects.create(organization=organization, conversation=self.chat,
                                    session=self.chat.handoff_sessions.get(), author=teammate, text="VIP customer")
