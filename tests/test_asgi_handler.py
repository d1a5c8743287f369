"""The web process's HTTP handler (handoff_site/asgi_handler.py), driven as daphne drives it:
a platform's webhook goes through the webhook chain, every other request through the whole
one. The handler runs requests in its pool threads, on their own database connections, so
these tests commit."""

import json

import pytest
from channels.testing import HttpCommunicator

from channels_gateway.models import Platform
from channels_gateway.tests.factories import ChannelConnectionFactory
from conversations.models import AuthorKind, Message
from handoff_site.asgi_handler import SyncMiddlewareASGIHandler
from tests.fakes.telegram_api import FakeTelegram

pytestmark = pytest.mark.django_db(transaction=True)

BOT_TOKEN = "7000000002:AAFakeTokenForTheAsgiHandlerTests_x"
SECRET = "asgi-handler-secret"


@pytest.fixture(scope="module")
def handler():
    return SyncMiddlewareASGIHandler()


async def request(handler, method: str, path: str, body: bytes = b"", headers=()) -> dict:
    communicator = HttpCommunicator(handler, method, path, body=body,
                                    headers=[(b"host", b"localhost"), *headers])
    response = await communicator.get_response(timeout=10)
    response["headers"] = {name.decode().lower(): value.decode() for name, value in response["headers"]}
    return response


def telegram_update(message_id: int, text: str) -> bytes:
    chat = {"id": 424242, "first_name": "Rita", "type": "private"}
    return json.dumps({"update_id": 9_000 + message_id, "message": {
        "message_id": message_id, "from": {"id": 424242, "is_bot": False, "first_name": "Rita"},
        "chat": chat, "date": 1_764_000_000, "text": text}}).encode()


@pytest.fixture
def connection(agent, settings):
    with FakeTelegram(BOT_TOKEN) as telegram:  # the AI's answer goes there
        settings.TELEGRAM_API_BASE_URL = telegram.url
        yield ChannelConnectionFactory(agent=agent, platform=Platform.TELEGRAM, config={},
                                       secrets={"bot_token": BOT_TOKEN, "secret_token": SECRET})


async def test_a_platform_webhook_is_stored_and_acknowledged(handler, connection):
    path = f"/webhooks/telegram/{connection.key}/"
    answered = await request(handler, "POST", path, telegram_update(1, "Where is my parcel?"),
                             [(b"x-telegram-bot-api-secret-token", SECRET.encode())])
    refused = await request(handler, "POST", path, telegram_update(2, "forged"),
                            [(b"x-telegram-bot-api-secret-token", b"wrong")])

    assert (answered["status"], json.loads(answered["body"])) == (200, {"ok": True})
    assert refused["status"] == 401
    assert "set-cookie" not in answered["headers"]
    texts = [m.text async for m in Message.objects.filter(author_kind=AuthorKind.USER)]
    assert texts == ["Where is my parcel?"]


@pytest.mark.urls("tests.faults.outage_urls")
async def test_a_webhook_that_meets_a_lost_database_is_told_to_come_back(handler):
    response = await request(handler, "POST", "/webhooks/telegram/gone/", b"{}")
    assert (response["status"], response["headers"]["retry-after"]) == (503, "5")
    assert json.loads(response["body"]) == {"error": "try_again"}


async def test_a_webhook_address_without_a_connection_key_is_not_found(handler):
    assert (await request(handler, "POST", "/webhooks/telegram/", b"{}"))["status"] == 404


async def test_pages_keep_the_whole_chain(handler):
    page = await request(handler, "GET", "/accounts/login/")
    assert page["status"] == 200
    assert "content-security-policy" in page["headers"] and page["headers"]["x-frame-options"] == "DENY"
    assert "csrftoken=" in page["headers"]["set-cookie"]
