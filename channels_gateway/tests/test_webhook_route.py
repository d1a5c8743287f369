"""`/webhooks/<platform>/<key>/` finds exactly one active connection of that platform."""

import pytest

from channels_gateway.models import Platform
from channels_gateway.tests.factories import ChannelConnectionFactory
from conversations.models import Message

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("path", [
    "/webhooks/telegram/no-such-key/",
    "/webhooks/carrier-pigeon/{key}/",
    "/webhooks/slack/{key}/",  # a Telegram key on Slack's route
    "/webhooks/widget/{key}/",
])
def test_unknown_routes_and_keys_are_not_found_and_store_nothing(client, path):
    telegram = ChannelConnectionFactory(platform=Platform.TELEGRAM)
    response = client.post(path.format(key=telegram.key), data="{}", content_type="application/json")
    assert response.status_code == 404
    assert response.json() == {"error": "unknown_connection"}
    assert not Message.objects.exists()


def test_a_switched_off_connection_takes_nothing(client):
    telegram = ChannelConnectionFactory(platform=Platform.TELEGRAM, is_active=False)
    response = client.post(f"/webhooks/telegram/{telegram.key}/", data="{}", content_type="application/json")
    assert response.status_code == 404
