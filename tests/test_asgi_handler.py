"""The web process's HTTP handler (handoff_site/asgi_handler.py), driven as daphne drives it:
a platform's webhook into an ongoing conversation is taken on the event loop, other webhooks
go through the webhook chain, every other request through the whole one. The handler runs
requests on its own database connections (pool threads, the loop's pool), so these tests
commit."""

import asyncio
import json
import socket

import pytest
from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer
from channels.testing import HttpCommunicator

from channels_gateway.adapters.registry import adapter_for
from channels_gateway.models import ChannelConnection, Platform
from channels_gateway.tests.signed_webhooks import SIGNED_PLATFORMS
from channels_gateway.tests.factories import ChannelConnectionFactory
from conversations.events import inbox_group
from conversations.models import AIReplyState, AuthorKind, ConversationMode, Message
from conversations.tests.factories import ContactFactory, ConversationFactory
from handoff_site import loop_database
from handoff_site.asgi_handler import SyncMiddlewareASGIHandler
from tests.fakes.anthropic_api import text_message
from tests.fakes.telegram_api import FakeTelegram

pytestmark = pytest.mark.django_db(transaction=True)

BOT_TOKEN = "7000000002:AAFakeTokenForTheAsgiHandlerTests_x"
SECRET = "asgi-handler-secret"


@pytest.fixture(scope="module")
def handler():
    return SyncMiddlewareASGIHandler()


@pytest.fixture(autouse=True)
async def _loop_database_closed():
    yield
    await loop_database.close()  # each test's event loop has its own pool


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


CHAT = 424242


async def post_message(handler, connection, message_id: int, text: str, secret: str = SECRET) -> dict:
    return await request(handler, "POST", f"/webhooks/telegram/{connection.key}/", telegram_update(message_id, text),
                         [(b"x-telegram-bot-api-secret-token", secret.encode())])


def ongoing_conversation(connection, mode: str):
    contact = ContactFactory(connection=connection, external_id=str(CHAT), display_name="Rita")
    return ConversationFactory(contact=contact, external_thread_id=str(CHAT), mode=mode)


def django_must_not_answer(scope, request, error_response):
    raise AssertionError(f"{scope['path']} reached Django's view")


async def listening_to_inbox(organization_id: int):
    layer = get_channel_layer()
    channel = await layer.new_channel()
    await layer.group_add(inbox_group(organization_id), channel)
    return lambda: layer.receive(channel)


async def user_texts() -> list[str]:
    return [m.text async for m in Message.objects.filter(author_kind=AuthorKind.USER).order_by("pk")]


async def test_a_message_into_an_ongoing_conversation_reaches_the_inbox_without_django(handler, connection,
                                                                                      monkeypatch):
    conversation = await sync_to_async(ongoing_conversation)(connection, ConversationMode.HUMAN)
    next_event = await listening_to_inbox(connection.organization_id)
    first = await post_message(handler, connection, 1, "Is anyone there?")  # the connection is read and remembered
    monkeypatch.setattr(handler, "_respond_in_pool_thread", django_must_not_answer)
    second = await post_message(handler, connection, 2, "My parcel is late.")
    again = await post_message(handler, connection, 2, "My parcel is late.")  # Telegram delivers it again

    assert [(r["status"], json.loads(r["body"])) for r in (first, second, again)] == [(200, {"ok": True})] * 3
    assert await user_texts() == ["Is anyone there?", "My parcel is late."]
    sent = [await next_event() for _ in range(2)]
    assert [(m["event"]["type"], m["event"]["message"]["text"], m["event"]["message"]["author_name"])
            for m in sent] == [("message.created", "Is anyone there?", "Rita"),
                               ("message.created", "My parcel is late.", "Rita")]
    assert {m["event"]["message"]["conversation_id"] for m in sent} == {conversation.pk}
    # In the inbox's stream, one after the other: an inbox that saw the first misses nothing.
    assert sent[1]["position"] == {**sent[0]["position"], "seq": sent[0]["position"]["seq"] + 1}
    with pytest.raises(TimeoutError):  # and the redelivery published nothing
        await asyncio.wait_for(next_event(), timeout=0.3)


async def test_the_ai_answers_a_message_taken_on_the_event_loop(handler, connection, fake_anthropic, monkeypatch):
    await sync_to_async(ongoing_conversation)(connection, ConversationMode.AI)
    fake_anthropic.then(text_message("Hello Rita!")).then(text_message("It left the depot this morning."))
    await post_message(handler, connection, 1, "Hello")
    monkeypatch.setattr(handler, "_respond_in_pool_thread", django_must_not_answer)
    answered = await post_message(handler, connection, 2, "Where is my parcel?")

    assert answered["status"] == 200
    message = await Message.objects.aget(author_kind=AuthorKind.USER, text="Where is my parcel?")
    assert message.ai_reply_state != AIReplyState.PENDING
    replies = [m.text async for m in Message.objects.filter(author_kind=AuthorKind.AI).order_by("pk")]
    assert replies == ["Hello Rita!", "It left the depot this morning."]


async def test_a_connection_deactivated_after_it_was_remembered_takes_nothing(handler, connection):
    await sync_to_async(ongoing_conversation)(connection, ConversationMode.HUMAN)
    await post_message(handler, connection, 1, "Hello")
    await ChannelConnection.objects.filter(pk=connection.pk).aupdate(is_active=False)
    refused = await post_message(handler, connection, 2, "Still there?")

    assert (refused["status"], json.loads(refused["body"])) == (404, {"error": "unknown_connection"})
    assert await user_texts() == ["Hello"]


async def test_new_credentials_count_at_once_for_a_remembered_connection(handler, connection):
    await sync_to_async(ongoing_conversation)(connection, ConversationMode.HUMAN)
    await post_message(handler, connection, 1, "Hello")
    connection.secrets = {**connection.secrets, "secret_token": "rotated-secret"}
    await connection.asave(update_fields=["secrets"])
    with_new = await post_message(handler, connection, 2, "After the rotation", secret="rotated-secret")
    with_old = await post_message(handler, connection, 3, "Old secret", secret=SECRET)

    assert (with_new["status"], with_old["status"]) == (200, 401)
    assert await user_texts() == ["Hello", "After the rotation"]


async def test_a_webhook_the_event_loop_cannot_store_is_stored_by_django(handler, connection, monkeypatch):
    await sync_to_async(ongoing_conversation)(connection, ConversationMode.HUMAN)
    await post_message(handler, connection, 1, "Hello")
    await loop_database.close()
    with socket.socket() as closed:  # a port nothing listens on: the loop's pool cannot connect
        closed.bind(("127.0.0.1", 0))
        unreachable = {**loop_database._connection_parameters(), "port": closed.getsockname()[1]}
    monkeypatch.setattr(loop_database, "_connection_parameters", lambda: unreachable)
    answered = await post_message(handler, connection, 2, "Are you there?")

    assert (answered["status"], json.loads(answered["body"])) == (200, {"ok": True})
    assert await user_texts() == ["Hello", "Are you there?"]


VERIFIED_IN_MEMORY = [p for p in SIGNED_PLATFORMS if adapter_for(p.platform).verifies_webhooks_in_memory]


@pytest.mark.parametrize("platform", VERIFIED_IN_MEMORY, ids=str)
async def test_every_platform_verified_in_memory_is_taken_on_the_event_loop(handler, agent, settings, platform,
                                                                           monkeypatch):
    connection = await sync_to_async(platform.connection)(agent)
    body = platform.body(connection, "Where is my order?")
    headers = [(b"content-type", b"application/json"),
               *((name.lower().encode(), value.encode()) for name, value in platform.headers(connection, body).items())]
    path = f"/webhooks/{platform.segment}/{connection.key}/"
    with platform.api(settings, connection):
        first = await request(handler, "POST", path, body, headers)  # opens the conversation, through Django
        monkeypatch.setattr(handler, "_respond_in_pool_thread", django_must_not_answer)
        again = await request(handler, "POST", path, body, headers)  # the platform delivers it again

    assert (first["status"], again["status"]) == (200, 200)
    assert await user_texts() == ["Where is my order?"]
