"""The end user's widget over a real websocket, with the real channel layer on Redis."""

import pytest
from channels.db import database_sync_to_async

from channels_gateway.tests.factories import ChannelConnectionFactory
from conversations.models import Conversation, Message
from tests.sockets import receive_until, widget_socket

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def widget(db):
    return ChannelConnectionFactory(config={"allowed_origins": ["https://shop.example"]})


async def test_unknown_widget_is_refused(widget):
    socket = widget_socket("no-such-key")
    connected, code = await socket.connect()
    assert not connected and code == 4404


async def test_a_site_not_allowed_is_refused(widget):
    socket = widget_socket(widget.key, origin="https://evil.example")
    connected, code = await socket.connect()
    assert not connected and code == 4403


async def test_a_visitor_chats_with_the_ai_and_keeps_the_conversation_across_reloads(widget):
    socket = widget_socket(widget.key)
    assert (await socket.connect())[0]
    hello = await socket.receive_json_from()
    assert hello["type"] == "hello" and hello["messages"] == [] and hello["agent"]["name"] == widget.agent.name

    await socket.send_json_to({"type": "message", "text": "hello there", "client_id": "c-1"})
    ack = await receive_until(socket, lambda f: f["type"] == "ack")
    assert ack["client_id"] == "c-1" and ack["message"]["text"] == "hello there"
    reply = await receive_until(socket, lambda f: f["type"] == "message")
    assert reply["message"]["author_kind"] == "ai" and reply["message"]["author_name"] == widget.agent.name
    await socket.disconnect()

    again = widget_socket(widget.key, token=hello["token"])
    await again.connect()
    history = (await again.receive_json_from())["messages"]
    assert [(m["author_kind"], m["text"]) for m in history][:1] == [("user", "hello there")]
    assert [m["author_kind"] for m in history] == ["user", "ai"]
    await again.disconnect()


async def test_a_resent_message_is_stored_once(widget):
    socket = widget_socket(widget.key)
    await socket.connect()
    await socket.receive_json_from()
    for _ in range(3):
        await socket.send_json_to({"type": "message", "text": "order 77 is late", "client_id": "same-id"})
    acks = [await receive_until(socket, lambda f: f["type"] == "ack") for _ in range(3)]
    assert len({ack["message"]["id"] for ack in acks}) == 1
    assert await database_sync_to_async(Message.objects.filter(author_kind="user").count)() == 1
    await socket.disconnect()


async def test_a_forged_token_starts_a_new_visitor(widget):
    socket = widget_socket(widget.key, token="forged.token")
    await socket.connect()
    hello = await socket.receive_json_from()
    assert hello["token"] != "forged.token" and hello["messages"] == []
    await socket.disconnect()


@pytest.mark.parametrize("frame, code", [
    ({"type": "message", "text": "   ", "client_id": "x"}, "empty_message"),
    ({"type": "message", "text": "x" * 20_001, "client_id": "y"}, "message_too_long"),
    ({"type": "message", "text": 42, "client_id": "z"}, "empty_message"),
    ({"type": "dance"}, "unknown_type"),
])
async def test_bad_input_gets_a_clear_error_and_stores_nothing(widget, frame, code):
    socket = widget_socket(widget.key)
    await socket.connect()
    await socket.receive_json_from()
    await socket.send_json_to(frame)
    error = await socket.receive_json_from()
    assert error["type"] == "error" and error["code"] == code
    await socket.send_json_to({"type": "ping"})
    assert (await socket.receive_json_from())["type"] == "pong"  # still connected
    assert not await database_sync_to_async(Conversation.objects.exists)()
    await socket.disconnect()


async def test_malformed_json_is_answered_not_crashed(widget):
    socket = widget_socket(widget.key)
    await socket.connect()
    await socket.receive_json_from()
    await socket.send_to(text_data="{not json")
    assert (await socket.receive_json_from())["code"] == "invalid_input"
    await socket.disconnect()
