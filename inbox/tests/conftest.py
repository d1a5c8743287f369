import pytest

from channels_gateway.tests.factories import ChannelConnectionFactory
from conversations.tests.factories import AIAgentFactory
from orgs.roles import Role
from orgs.tests.factories import OrganizationFactory, member


@pytest.fixture
def org(db):
    return OrganizationFactory(name="Acme")


@pytest.fixture
def widget(org):
    return ChannelConnectionFactory(agent=AIAgentFactory(organization=org))


@pytest.fixture
def ana(org):
    return member(org, Role.AGENT, username="ana", first_name="Ana", last_name="Silva")


@pytest.fixture
def ben(org):
    return member(org, Role.AGENT, username="ben", first_name="Ben", last_name="Okafor")
