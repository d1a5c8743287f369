import pytest

from channels_gateway.tests.factories import ChannelConnectionFactory
from conversations.tests.factories import AIAgentFactory


@pytest.fixture
def org(organization):
    """The shared `organization` (whose members are `ana` and `ben`), named as the inbox shows it."""
    organization.name = "Acme"
    organization.save(update_fields=["name"])
    return organization


@pytest.fixture
def widget(org):
    return ChannelConnectionFactory(agent=AIAgentFactory(organization=org))
