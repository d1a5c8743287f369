import pytest

from channels_gateway.tests.factories import ChannelConnectionFactory
from conversations.events import inbox_group
from conversations.tests.factories import AIAgentFactory, ConversationFactory
from orgs.roles import Role
from orgs.tests.factories import OrganizationFactory, member
from tests.realtime import GroupListener


@pytest.fixture
def organization(db):
    return OrganizationFactory()


@pytest.fixture
def agent(organization):
    return AIAgentFactory(organization=organization)


@pytest.fixture
def conversation(agent):
    connection = ChannelConnectionFactory(agent=agent)
    return ConversationFactory(contact__connection=connection)


@pytest.fixture
def ana(organization):
    return member(organization, Role.AGENT, username="ana", first_name="Ana", last_name="Silva")


@pytest.fixture
def ben(organization):
    return member(organization, Role.AGENT, username="ben", first_name="Ben", last_name="Okafor")


@pytest.fixture
def inbox_events(organization):
    listener = GroupListener(inbox_group(organization.pk))
    yield listener
    listener.close()
