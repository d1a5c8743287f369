import pytest
from rest_framework.test import APIClient

from channels_gateway.models import Platform
from channels_gateway.tests.factories import ChannelConnectionFactory
from conversations.tests.factories import ConversationFactory
from orgs.models import ApiKeyRole
from orgs.services import api_key_create


def client_for(plaintext: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {plaintext}")
    return client


@pytest.fixture
def agent_key(organization):
    return api_key_create(organization=organization, name="Our bot", role=ApiKeyRole.AGENT)


@pytest.fixture
def api(agent_key):
    return client_for(agent_key[1])


@pytest.fixture
def read_api(organization):
    return client_for(api_key_create(organization=organization, name="Dashboard", role=ApiKeyRole.READ_ONLY)[1])


@pytest.fixture
def api_connection(agent):
    return ChannelConnectionFactory(agent=agent, platform=Platform.API, config={})


@pytest.fixture
def api_conversation(api_connection):
    return ConversationFactory(contact__connection=api_connection)
