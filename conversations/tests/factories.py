import factory

from channels_gateway.tests.factories import ChannelConnectionFactory
from conversations.models import AIAgent, Contact, Conversation
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
