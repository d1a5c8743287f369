from datetime import timedelta

import factory
from django.utils import timezone

from channels_gateway.tests.factories import ChannelConnectionFactory
from conversations.models import AIAgent, AuthorKind, Contact, Conversation, HandoffSession, Message
from orgs.tests.factories import OrganizationFactory


class AIAgentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = AIAgent

    organization = factory.SubFactory(OrganizationFactory)
    name = factory.Sequence(lambda n: f"Assistant {n}")
    system_prompt = "You help customers of a small online shop."


class ContactFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Contact

    connection = factory.SubFactory(ChannelConnectionFactory)
    organization = factory.LazyAttribute(lambda contact: contact.connection.organization)
    external_id = factory.Sequence(lambda n: f"visitor-{n}")
    display_name = factory.Faker("name")


class ConversationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Conversation

    contact = factory.SubFactory(ContactFactory)
    connection = factory.LazyAttribute(lambda conversation: conversation.contact.connection)
    organization = factory.LazyAttribute(lambda conversation: conversation.connection.organization)
    agent = factory.LazyAttribute(lambda conversation: conversation.connection.agent)
    external_thread_id = factory.LazyAttribute(lambda conversation: conversation.contact.external_id)


class MessageFactory(factory.django.DjangoModelFactory):
    """A stored message as the inbound path leaves it (an end user's, received)."""

    class Meta:
        model = Message

    conversation = factory.SubFactory(ConversationFactory)
    organization = factory.LazyAttribute(lambda message: message.conversation.organization)
    author_kind = AuthorKind.USER
    text = factory.Faker("sentence")
    delivery_status = "received"


class HandoffSessionFactory(factory.django.DjangoModelFactory):
    """A session row in any status, for reads (transitions go through services.handoff)."""

    class Meta:
        model = HandoffSession

    conversation = factory.SubFactory(ConversationFactory)
    organization = factory.LazyAttribute(lambda session: session.conversation.organization)
    trigger = "guard"
    summary = factory.Faker("paragraph")
    queued_at = factory.LazyFunction(timezone.now)
    remind_at = factory.LazyAttribute(lambda session: session.queued_at + timedelta(minutes=3))
    expires_at = factory.LazyAttribute(lambda session: session.queued_at + timedelta(minutes=15))
