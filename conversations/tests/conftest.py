import pytest

from channels_gateway.tests.factories import ChannelConnectionFactory
from conversations.events import inbox_group
from conversations.tests.factories import ConversationFactory
from tests.realtime import GroupListener


@pytest.fixture
def conversation(agent):
    connection = ChannelConnectionFactory(agent=agent)
    return ConversationFactory(contact__connection=connection)


@pytest.fixture
def inbox_events(organization):
    listener = GroupListener(inbox_group(organization.pk))
    yield listener
    listener.close()
