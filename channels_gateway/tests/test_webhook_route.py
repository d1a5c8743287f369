"""`/webhooks/<platform>/<key>/` finds exactly one active connection of that platform."""

import json

import pytest

from channels_gateway.models import ChannelConnection, Platform
from channels_gateway.tests.factories import ChannelConnectionFactory
from conversations.models import AuthorKind, Message

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


# --- the connection a web process remembers between webhooks -------------------------------------

def _telegram_update(message_id: int, text: str) -> str:
    return json.dumps({"update_id": message_id, "message": {
        "message_id": message_id, "date": 1700000000, "text": text,
        "from": {"id": 42, "is_bot": False, "first_name": "Tess"}, "chat": {"id": 42, "type": "private"}}})


def _post(client, connection, message_id: int, text: str, secret: str):
    return client.post(f"/webhooks/telegram/{connection.key}/", data=_telegram_update(message_id, text),
                       content_type="application/json", headers={"X-Telegram-Bot-Api-Secret-Token": secret})


def _user_texts() -> list[str]:
    return list(Message.objects.filter(author_kind=AuthorKind.USER).order_by("pk").values_list("text", flat=True))


def _written_elsewhere(connection, **fields) -> None:
    """A committed write this web process is not told about, as by an admin on another one."""
    ChannelConnection.objects.filter(pk=connection.pk).update(**fields)


@pytest.mark.django_db(transaction=True)
def test_new_credentials_count_at_once_and_the_old_ones_stop_at_once(client):
    telegram = ChannelConnectionFactory(platform=Platform.TELEGRAM, secrets={"secret_token": "old-secret"})
    assert _post(client, telegram, 1, "Hi", "old-secret").status_code == 200  # now remembered

    _written_elsewhere(telegram, secrets={"secret_token": "new-secret"})
    assert _post(client, telegram, 2, "Forged with the old secret", "old-secret").status_code == 401
    assert _post(client, telegram, 3, "Hello again", "new-secret").status_code == 200
    assert _user_texts() == ["Hi", "Hello again"]


@pytest.mark.django_db(transaction=True)
def test_a_connection_switched_off_elsewhere_takes_no_more_messages(client):
    telegram = ChannelConnectionFactory(platform=Platform.TELEGRAM, secrets={"secret_token": "s3cret"})
    assert _post(client, telegram, 1, "Hi", "s3cret").status_code == 200  # now remembered

    _written_elsewhere(telegram, is_active=False)
    response = _post(client, telegram, 2, "Anyone?", "s3cret")
    assert response.status_code == 404 and response.json() == {"error": "unknown_connection"}
    assert _user_texts() == ["Hi"]
