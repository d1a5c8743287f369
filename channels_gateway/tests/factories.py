import factory

from channels_gateway.models import ChannelConnection, Platform


class ChannelConnectionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ChannelConnection

    organization = factory.LazyAttribute(lambda connection: connection.agent.organization)
    agent = factory.SubFactory("conversations.tests.factories.AIAgentFactory")
    platform = Platform.WIDGET
    name = factory.Sequence(lambda n: f"Website {n}")
    config = factory.LazyFunction(lambda: {"allowed_origins": ["*"]})
