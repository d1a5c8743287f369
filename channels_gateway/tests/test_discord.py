"""Discord: slash-command interactions over signed HTTP, messages over the Gateway websocket,
replies through the REST API — each against a fake Discord on 127.0.0.1."""

import asyncio
import json
import time
from datetime import timedelta
from pathlib import Path

import pytest
from asgiref.sync import sync_to_async
from django.db import connections
from django.utils import timezone

from channels_gateway import discord_gateway
from channels_gateway.adapters.discord import HUMAN_REQUEST_TEXT, DiscordAdapter, inbound_from_gateway_message
from channels_gateway.adapters.message_parts import utf16_length
from channels_gateway.discord_gateway import (
    INTENTS,
    FatalGatewayError,
    GatewayClient,
    GatewaySupervisor,
    active_bots,
    gateway_url_for,
    store_gateway_message,
)
from channels_gateway.models import Platform
from channels_gateway.services import deliver_message
from channels_gateway.tests.delivery import make_due
from channels_gateway.tests.factories import ChannelConnectionFactory
from channels_gateway.tests.round_trip import Channel, run_round_trip
from conversations.handoff_states import HandoffStatus
from conversations.models import AuthorKind, Conversation, HandoffSession, Message
from conversations.services.messages import post_message_to_contact
from conversations.tests.factories import ContactFactory, ConversationFactory
from tests.fakes.discord_api import BOT_USER, FakeDiscordAPI, FakeGateway, signed_headers, snowflake
from tests.fakes.odd_payloads import check_instead_of_storing, odd_variants

FIXTURES = Path(__file__).parent / "fixtures" / "discord"
BOT_TOKEN = "MTAwMDAwMDAwMDAwMDAwMDAwMQ.fake.bot-token-for-tests"
BOT_ID = BOT_USER["id"]
DM_CHANNEL = "645027906669510999"  # interaction_ask_dm.json
GUILD_CHANNEL = "645027906669510667"  # interaction_slash_command.json


def fixture(name: str) -> dict:
    return json.loads((FIXTURES / f"{name}.json").read_text())


def ask(text: str, *, interaction_id: str | None = None) -> dict:
    """`/ask text:<text>` in a DM with the bot, as Discord sends it."""
    payload = fixture("interaction_ask_dm")
    payload["id"] = interaction_id or snowflake()
    payload["data"]["options"][0]["value"] = text
    return payload


# --- Fixtures ------------------------------------------------------------------------------------


@pytest.fixture
def bot(agent):
    secrets, config = DiscordAdapter().demo_credentials()
    return ChannelConnectionFactory(agent=agent, platform=Platform.DISCORD, name="Discord bot",
                                    secrets={**secrets, "bot_token": BOT_TOKEN},
                                    config={**config, "application_id": BOT_ID})


@pytest.fixture(scope="module")
def discord_server():
    with FakeDiscordAPI(bot_token=BOT_TOKEN) as fake:
        yield fake


@pytest.fixture
def discord(discord_server, settings):
    """The fake Discord REST API, fresh for each test (one server for the module: fast)."""
    discord_server.reset()
    discord_server.gateway_url = "wss://gateway.discord.gg"
    discord_server.commands = []
    discord_server.application["interactions_endpoint_url"] = None
    settings.DISCORD_API_BASE_URL = discord_server.base_url
    yield discord_server


def post_interaction(client, connection, payload=None, *, body: bytes | None = None, headers: dict | None = None,
                     timestamp: str | None = None):
    body = body if body is not None else json.dumps(payload).encode()
    if headers is None:
        headers = signed_headers(connection.config["demo_private_key_hex"], body, timestamp=timestamp)
    return client.post(f"/webhooks/discord/{connection.key}/", data=body, content_type="application/json",
                       headers=headers)


def nothing_stored() -> bool:
    return not Message.objects.exists() and not Conversation.objects.exists()


# --- The round trip, through the HTTP interactions endpoint ---------------------------------------


def test_round_trip_through_slash_commands(client, bot, discord, ana, django_capture_on_commit_callbacks):
    channel = Channel(
        connection=bot,
        say=lambda text: post_interaction(client, bot, ask(text)),
        delivered=lambda: discord.delivered(DM_CHANNEL),
    )
    session = run_round_trip(channel, teammate=ana, capture=django_capture_on_commit_callbacks)
    assert session.conversation.external_thread_id == DM_CHANNEL
    assert session.conversation.contact.external_id == "53908232506183680"
    for call in discord.message_calls():
        assert call.headers["authorization"] == f"Bot {BOT_TOKEN}"
        assert call.json()["allowed_mentions"] == {"parse": []}  # a reply never pings anyone


# --- Interactions: verification and normalisation ------------------------------------------------


def test_ping_gets_a_pong(client, bot):
    response = post_interaction(client, bot, fixture("interaction_ping"))
    assert response.status_code == 200 and response.json() == {"type": 1}
    assert nothing_stored()


def test_documented_slash_command_is_stored_and_acknowledged_at_once(client, bot):
    response = post_interaction(client, bot, fixture("interaction_slash_command"))

    assert response.status_code == 200
    answer = response.json()
    assert answer["type"] == 4  # CHANNEL_MESSAGE_WITH_SOURCE: within Discord's 3 seconds
    assert answer["data"]["content"] == "> The Gitrog Monster\nGot it — one moment."
    assert answer["data"]["allowed_mentions"] == {"parse": []}
    message = Message.objects.get()
    assert message.text == "The Gitrog Monster" and message.platform_message_id == "786008729715212338"
    assert message.conversation.external_thread_id == f"{GUILD_CHANNEL}:53908232506183680"  # in a server
    assert message.conversation.contact.external_id == "53908232506183680"
    assert message.conversation.contact.display_name == "Mason"


def test_slash_command_in_a_dm_uses_the_user_field(client, bot):
    assert post_interaction(client, bot, fixture("interaction_ask_dm")).status_code == 200
    message = Message.objects.get()
    assert message.text == "Where is my order?"
    assert (message.conversation.external_thread_id, message.conversation.contact.external_id) == (
        DM_CHANNEL, "53908232506183680")


def test_human_command_hands_the_conversation_over(client, bot, discord, django_capture_on_commit_callbacks):
    payload = fixture("interaction_slash_command")
    payload["data"] = {"id": "771825006014889987", "name": "human", "type": 1}
    with django_capture_on_commit_callbacks(execute=True):
        assert post_interaction(client, bot, payload).status_code == 200
    assert Message.objects.filter(author_kind=AuthorKind.USER).get().text == HUMAN_REQUEST_TEXT
    assert HandoffSession.objects.get().status == HandoffStatus.QUEUED
    assert discord.delivered(GUILD_CHANNEL) == [f"<@53908232506183680> {bot.agent.queued_message}"]
    assert discord.message_calls()[0].json()["allowed_mentions"] == {"parse": [], "users": ["53908232506183680"]}


def test_an_attached_file_is_stored_as_a_placeholder(client, bot):
    assert post_interaction(client, bot, fixture("interaction_attachment")).status_code == 200
    message = Message.objects.get()
    assert message.text == "[Photo] this is the broken part"
    assert message.conversation.contact.display_name == "Mase"


@pytest.mark.parametrize("change, words", [
    (lambda p: p["data"].update(options=[]), "Please write your question"),
    (lambda p: p.update(context=2), "I can only help in a server"),
])
def test_commands_the_bot_cannot_take_get_a_private_answer_and_store_nothing(client, bot, change, words):
    payload = fixture("interaction_ask_dm")
    change(payload)
    answer = post_interaction(client, bot, payload).json()
    assert answer["type"] == 4 and answer["data"]["flags"] == 64 and words in answer["data"]["content"]
    assert nothing_stored()


def test_a_button_click_is_acknowledged_and_ignored(client, bot):
    response = post_interaction(client, bot, fixture("interaction_component"))
    assert response.status_code == 200 and response.json() == {"type": 6}
    assert nothing_stored()


def _other_key_headers(body: bytes) -> dict:
    other_private = DiscordAdapter().demo_credentials()[1]["demo_private_key_hex"]
    return signed_headers(other_private, body)


@pytest.mark.parametrize("forge", [
    pytest.param(lambda bot, body: {}, id="no signature headers"),
    pytest.param(lambda bot, body: _other_key_headers(body), id="signed by another key"),
    pytest.param(lambda bot, body: signed_headers(bot.config["demo_private_key_hex"], body + b" "),
                 id="body changed after signing"),
    pytest.param(lambda bot, body: {**signed_headers(bot.config["demo_private_key_hex"], body),
                                    "X-Signature-Timestamp": str(int(time.time()) + 1)}, id="timestamp changed"),
    pytest.param(lambda bot, body: {"X-Signature-Ed25519": "not-hex", "X-Signature-Timestamp": "1"},
                 id="garbage signature"),
])
def test_unverified_requests_are_refused_and_change_nothing(client, bot, forge):
    body = json.dumps(ask("Hello there")).encode()
    response = post_interaction(client, bot, body=body, headers=forge(bot, body))
    assert response.status_code == 401
    assert nothing_stored()


def test_a_replayed_interaction_with_an_old_timestamp_is_refused(client, bot):
    stale = str(int(time.time()) - 600)
    response = post_interaction(client, bot, ask("Hello there"), timestamp=stale)
    assert response.status_code == 401
    assert nothing_stored()


def test_a_duplicated_interaction_is_stored_once_and_answered_once(client, bot, discord,
                                                                  django_capture_on_commit_callbacks):
    payload = ask("Hello there", interaction_id="786008729715299999")
    for _ in range(2):
        with django_capture_on_commit_callbacks(execute=True):
            assert post_interaction(client, bot, payload).status_code == 200
    assert Message.objects.filter(author_kind=AuthorKind.USER).count() == 1
    assert discord.delivered(DM_CHANNEL) == [f"Hi! I'm {bot.agent.name}. How can I help you today?"]


@pytest.mark.parametrize("body", [b"{not json", b"[1, 2]", b'{"type": 2, "id": "1"}', b"\xff\xfe"])
def test_a_malformed_body_is_a_400(client, bot, body):
    response = post_interaction(client, bot, body=body)
    assert response.status_code == 400
    assert nothing_stored()


def test_a_body_over_the_upload_limit_is_a_413_not_a_server_error(client, bot, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    body = json.dumps(ask("x" * 2000)).encode()
    assert post_interaction(client, bot, body=body).status_code == 413  # signed: read to be checked
    assert post_interaction(client, bot, body=body, headers={}).status_code == 401  # unsigned: refused first
    assert nothing_stored()


def test_json_nested_too_deep_to_parse_is_a_400(client, bot):
    body = b'{"type": 2, "data": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    assert post_interaction(client, bot, body=body).status_code == 400


@pytest.mark.parametrize("name, change, text", [
    pytest.param("interaction_ask_dm", lambda p: p.update(channel="645027906669510999"), "Where is my order?",
                 id="channel a string"),
    pytest.param("interaction_ask_dm", lambda p: p.update(member="Mason"), "Where is my order?",
                 id="member a string"),
    pytest.param("interaction_ask_dm", lambda p: p["user"].update(global_name=7, username=["x"]),
                 "Where is my order?", id="names of other types"),
    pytest.param("interaction_attachment", lambda p: p["data"].update(resolved=[1, 2]),
                 "[File] this is the broken part", id="resolved a list"),
    pytest.param("interaction_attachment", lambda p: p["data"]["resolved"].update(attachments=["x"]),
                 "[File] this is the broken part", id="resolved attachments a list"),
    pytest.param("interaction_attachment",
                 lambda p: p["data"]["resolved"]["attachments"].update({"1065017325548638300": "broken.png"}),
                 "[File] this is the broken part", id="an attachment a string"),
    pytest.param("interaction_attachment", lambda p: p["data"].update(options={"text": "hi"}), None,
                 id="options an object"),
])
def test_an_interaction_with_fields_of_unexpected_types_is_answered_not_a_server_error(client, bot, name, change,
                                                                                       text):
    payload = fixture(name)
    change(payload)
    response = post_interaction(client, bot, payload)
    assert response.status_code == 200
    assert list(Message.objects.values_list("text", flat=True)) == ([text] if text else [])


@pytest.mark.parametrize("channel", ["645027906669510999", ["645027906669510999"], {"id": {"x": 1}}])
def test_a_command_whose_channel_cannot_be_read_is_a_400_not_a_server_error(client, bot, channel):
    payload = fixture("interaction_ask_dm")
    del payload["channel_id"]
    payload["channel"] = channel
    assert post_interaction(client, bot, payload).status_code == 400
    assert nothing_stored()


@pytest.mark.parametrize("name", ["interaction_ask_dm", "interaction_attachment", "interaction_slash_command"])
def test_no_oddly_shaped_interaction_is_ever_a_server_error(client, bot, name, monkeypatch):
    check_instead_of_storing(monkeypatch)
    statuses = {where: post_interaction(client, bot, payload).status_code
                for where, payload in odd_variants(fixture(name))}
    assert {where: status for where, status in statuses.items() if status not in (200, 400)} == {}


def test_demo_credentials_are_a_working_key_pair(bot):
    side = DiscordAdapter().platform_side(bot)
    assert side["public_key_hex"] == bot.secrets["public_key"] and len(side["private_key_hex"]) == 64
    assert DiscordAdapter().demo_credentials()[0]["public_key"] != bot.secrets["public_key"]


# --- Gateway messages: what the bot answers ------------------------------------------------------


def test_documented_message_in_a_dm_is_taken():
    inbound = inbound_from_gateway_message(fixture("message_create_dm"), bot_user_id=BOT_ID)
    assert (inbound.contact_external_id, inbound.thread_id, inbound.text, inbound.platform_message_id) == (
        "53908099506183680", "290926798999357250", "Supa Hot", "334385199974967042")
    assert inbound.contact_name == "Mason"


def test_a_server_message_is_taken_only_when_the_bot_is_mentioned():
    mentioned = fixture("message_create_guild_mention")
    inbound = inbound_from_gateway_message(mentioned, bot_user_id=BOT_ID)
    assert inbound.text == "Supa Hot" and inbound.contact_name == "Mase"

    chatter = {**mentioned, "content": "Supa Hot", "mentions": []}
    assert inbound_from_gateway_message(chatter, bot_user_id=BOT_ID) is None

    reply_to_bot = {**chatter, "type": 19, "referenced_message": {"id": "1", "author": BOT_USER}}
    assert inbound_from_gateway_message(reply_to_bot, bot_user_id=BOT_ID).text == "Supa Hot"


@pytest.mark.parametrize("change", [
    pytest.param(lambda m: m["author"].update(bot=True), id="another bot"),
    pytest.param(lambda m: m.update(author=dict(BOT_USER)), id="the bot itself"),
    pytest.param(lambda m: m.update(webhook_id="1"), id="a webhook"),
    pytest.param(lambda m: m.update(type=7, content=""), id="a member joined"),
    pytest.param(lambda m: m.update(type=6), id="a pin"),
])
def test_messages_that_are_not_a_person_writing_are_ignored(change):
    message = fixture("message_create_dm")
    change(message)
    assert inbound_from_gateway_message(message, bot_user_id=BOT_ID) is None


def test_unsupported_content_becomes_a_readable_placeholder():
    voice = inbound_from_gateway_message(fixture("message_create_attachments"), bot_user_id=BOT_ID)
    assert voice.text == "[Voice message]"

    sticker = {**fixture("message_create_dm"), "content": "", "sticker_items": [
        {"id": "749054660769218631", "name": "Wave", "format_type": 3}]}
    assert inbound_from_gateway_message(sticker, bot_user_id=BOT_ID).text == "[Sticker Wave]"

    photo = {**fixture("message_create_dm"), "content": "look at this", "attachments": [
        {"id": "1", "filename": "box.jpg", "content_type": "image/jpeg", "size": 1, "url": "https://x"}]}
    assert inbound_from_gateway_message(photo, bot_user_id=BOT_ID).text == "[Photo] look at this"

    document = {**fixture("message_create_dm"), "content": "", "attachments": [
        {"id": "2", "filename": "invoice.pdf", "content_type": "application/pdf", "size": 1, "url": "https://x"}]}
    assert inbound_from_gateway_message(document, bot_user_id=BOT_ID).text == "[File invoice.pdf]"


@pytest.mark.parametrize("change, text", [
    pytest.param(lambda m: m.update(author="Mason"), None, id="author a string"),
    pytest.param(lambda m: m.update(type=[0]), None, id="type a list"),
    pytest.param(lambda m: m.update(mentions=["1000000000000000001", {"id": BOT_ID}]), "Supa Hot",
                 id="a mention a string"),
    pytest.param(lambda m: m.update(mentions=[], referenced_message="x"), None, id="referenced_message a string"),
    pytest.param(lambda m: m.update(flags="voice", attachments=["x", {"content_type": 7, "filename": "a.ogg"}]),
                 "[File a.ogg] Supa Hot", id="flags a string, attachments odd"),
    pytest.param(lambda m: m.update(sticker_items=[7, {"name": ["Wave"]}], poll={"question": "Which?"}),
                 "[Sticker]\n[Poll]\nSupa Hot", id="stickers and poll odd"),
    pytest.param(lambda m: m.update(content=["Supa Hot"]), "", id="content a list"),
])
def test_a_gateway_message_with_fields_of_unexpected_types_never_raises(change, text):
    message = fixture("message_create_guild_mention")
    change(message)
    inbound = inbound_from_gateway_message(message, bot_user_id=BOT_ID)
    assert (inbound.text if inbound else None) == text


@pytest.mark.parametrize("name", ["message_create_dm", "message_create_guild_mention", "message_create_attachments"])
def test_no_oddly_shaped_gateway_message_raises(name):
    for where, message in odd_variants(fixture(name)):
        try:
            inbound = inbound_from_gateway_message(message, bot_user_id=BOT_ID)
        except Exception as error:  # the failure names the field
            pytest.fail(f"{where}: {type(error).__name__}: {error}")
        if inbound is not None:
            assert all(isinstance(value, str) for value in (
                inbound.contact_external_id, inbound.thread_id, inbound.text, inbound.platform_message_id,
                inbound.contact_name)), where


def test_a_message_in_a_thread_is_answered_in_that_thread(bot, discord, django_capture_on_commit_callbacks):
    thread_id = "1086379431441883237"
    message = {**fixture("message_create_guild_mention"), "channel_id": thread_id,
               "content": "<@1000000000000000001> Hello there"}
    with django_capture_on_commit_callbacks(execute=True):
        assert store_gateway_message(bot.pk, message, BOT_ID) == 1
        assert store_gateway_message(bot.pk, message, BOT_ID) == 0  # a replay after RESUME
    assert discord.delivered(thread_id) == [
        f"<@53908099506183680> Hi! I'm {bot.agent.name}. How can I help you today?"]
    assert discord.delivered() == discord.delivered(thread_id)


def test_two_people_in_one_server_channel_have_their_own_conversations(client, bot, discord,
                                                                       django_capture_on_commit_callbacks):
    first = fixture("interaction_slash_command")
    second = fixture("interaction_slash_command")
    second["id"] = snowflake()
    second["member"]["user"] = {"id": "80351110224678912", "username": "Nelly", "discriminator": "1337"}
    second["data"]["options"][0]["value"] = "human please"
    with django_capture_on_commit_callbacks(execute=True):
        post_interaction(client, bot, first)
        post_interaction(client, bot, second)

    assert sorted(Conversation.objects.values_list("external_thread_id", "contact__external_id")) == [
        (f"{GUILD_CHANNEL}:53908232506183680", "53908232506183680"),
        (f"{GUILD_CHANNEL}:80351110224678912", "80351110224678912"),
    ]
    # Nelly's handoff does not silence the assistant for Mason, and each answer is addressed.
    assert HandoffSession.objects.get().conversation.contact.external_id == "80351110224678912"
    answers = discord.delivered(GUILD_CHANNEL)
    assert [answer.split(" ")[0] for answer in answers] == ["<@53908232506183680>", "<@80351110224678912>"]


# --- Outbound -------------------------------------------------------------------------------------


@pytest.fixture
def conversation(bot):
    contact = ContactFactory(connection=bot, external_id="53908099506183680")
    return ConversationFactory(contact=contact, external_thread_id="290926798999357250")


def reply(conversation, text: str) -> Message:
    return post_message_to_contact(conversation=conversation, author_kind=AuthorKind.AI, text=text)


def test_a_rate_limit_waits_for_retry_after_then_succeeds(conversation, discord):
    discord.rate_limit(30.5)
    message = reply(conversation, "Your order ships today.")

    before = timezone.now()
    assert deliver_message(message_id=message.pk) == "pending"
    message.refresh_from_db()
    assert message.next_attempt_at >= before + timedelta(seconds=30.5)
    assert "rate limit" in message.delivery_error

    make_due(message)
    assert deliver_message(message_id=message.pk) == "sent"
    message.refresh_from_db()
    assert message.delivery_status == "sent" and message.platform_message_id
    assert discord.delivered("290926798999357250") == ["Your order ships today."] * 2  # refused, then sent


def test_a_server_error_is_retried(conversation, discord):
    discord.fail(502)
    message = reply(conversation, "Your order ships today.")
    assert deliver_message(message_id=message.pk) == "pending"
    message.refresh_from_db()
    assert message.delivery_error == "Discord server error (502)"
    make_due(message)
    assert deliver_message(message_id=message.pk) == "sent"


@pytest.mark.parametrize("status, code, text, reason", [
    (403, 50013, "Missing Permissions", "Discord: Missing Permissions (50013)"),
    (403, 50007, "Cannot send messages to this user", "Discord: Cannot send messages to this user (50007)"),
    (404, 10003, "Unknown Channel", "Discord: Unknown Channel (10003)"),
])
def test_a_permanent_error_fails_with_discords_reason(conversation, discord, status, code, text, reason):
    discord.fail(status, code, text)
    message = reply(conversation, "Your order ships today.")
    assert deliver_message(message_id=message.pk) == "failed"
    message.refresh_from_db()
    assert (message.delivery_status, message.delivery_error) == ("failed", reason)


def test_a_bad_token_fails_without_showing_the_token(conversation, discord):
    conversation.connection.secrets = {**conversation.connection.secrets, "bot_token": "revoked-token-123"}
    conversation.connection.save()
    message = reply(conversation, "Your order ships today.")
    assert deliver_message(message_id=message.pk) == "failed"
    message.refresh_from_db()
    assert message.delivery_error == "Discord: 401: Unauthorized"
    assert "revoked-token-123" not in message.delivery_error


def long_text() -> str:
    paragraphs = [f"Step {n}: " + " ".join(f"word{n}-{i}" for i in range(60)) + "." for n in range(12)]
    return "\n\n".join(paragraphs)


def test_a_long_reply_is_split_in_order_with_nothing_lost(conversation, discord):
    text = long_text() + "\n\n" + "😀" * 1500  # emoji count twice in UTF-16
    message = reply(conversation, text)
    assert deliver_message(message_id=message.pk) == "sent"

    parts = discord.delivered("290926798999357250")
    assert len(parts) >= 4
    assert all(utf16_length(part) <= 2000 for part in parts)
    assert "".join(parts).replace(" ", "").replace("\n", "") == text.replace(" ", "").replace("\n", "")
    message.refresh_from_db()
    assert len(message.platform_message_id.split(",")) == len(parts)


def test_each_part_carries_a_nonce_discord_enforces(conversation, discord):
    message = reply(conversation, long_text())
    assert deliver_message(message_id=message.pk) == "sent"
    bodies = [call.json() for call in discord.message_calls()]
    assert [body["nonce"] for body in bodies] == [f"{message.pk}.{index}" for index in range(len(bodies))]
    assert all(body["enforce_nonce"] is True and len(body["nonce"]) <= 25 for body in bodies)


def test_a_part_whose_answer_was_lost_to_a_time_out_is_not_posted_twice(conversation, discord, monkeypatch):
    from channels_gateway.adapters import platform_http

    monkeypatch.setattr(platform_http, "TIMEOUT", (1, 0.3))
    discord.ok(1).lose_reply(1.0)  # part 2 is posted, but its answer comes after our time-out
    message = reply(conversation, long_text())
    assert deliver_message(message_id=message.pk) == "pending"
    message.refresh_from_db()
    assert message.delivered_parts == 1 and "did not answer in time" in message.delivery_error

    make_due(message)
    assert deliver_message(message_id=message.pk) == "sent"
    calls = discord.delivered("290926798999357250")
    assert calls[1] == calls[2]  # part 2 was sent again, with the same nonce…
    shown = discord.shown("290926798999357250")
    assert shown == calls[:2] + calls[3:]  # …and Discord shows it once
    assert "".join(shown).replace(" ", "").replace("\n", "") == long_text().replace(" ", "").replace("\n", "")
    message.refresh_from_db()
    assert message.platform_message_id.split(",")[0] == discord.posted[1]["id"]  # the message posted the first time


def test_the_fake_posts_a_repeated_nonce_again_without_enforce_nonce(discord):
    # What enforce_nonce is for: without it Discord itself does not deduplicate.
    import requests

    url = f"{discord.base_url}/channels/1/messages"
    headers = {"Authorization": f"Bot {BOT_TOKEN}"}
    for enforce in (False, False, True, True):
        requests.post(url, json={"content": "hi", "nonce": "7.0", "enforce_nonce": enforce}, headers=headers,
                      timeout=5)
    assert len(discord.shown("1")) == 2


def test_a_retry_after_a_partial_failure_does_not_resend_delivered_parts(conversation, discord):
    discord.ok(1).fail(503)
    message = reply(conversation, long_text())
    assert deliver_message(message_id=message.pk) == "pending"
    message.refresh_from_db()
    assert message.delivered_parts == 1

    make_due(message)
    assert deliver_message(message_id=message.pk) == "sent"
    calls = discord.delivered("290926798999357250")
    first, second = calls[0], calls[1]
    assert calls[2] == second and calls.count(first) == 1  # part 2 refused, then sent; part 1 once
    assert "".join(calls[:1] + calls[2:]).replace(" ", "").replace("\n", "") == (
        long_text().replace(" ", "").replace("\n", ""))


# --- The Gateway worker, against a fake Gateway websocket -----------------------------------------

FAST = {"backoff_base": 0.01, "backoff_max": 0.05, "invalid_session_delay": (0.01, 0.02), "hello_timeout": 5}


async def eventually(check, timeout: float = 5.0):
    deadline = time.monotonic() + timeout
    while True:
        value = await sync_to_async(check)() if not asyncio.iscoroutinefunction(check) else await check()
        if value or time.monotonic() > deadline:
            return value
        await asyncio.sleep(0.02)


@pytest.mark.django_db(transaction=True)
async def test_the_worker_identifies_and_answers_a_direct_message(bot, discord):
    async with FakeGateway() as gateway:
        discord.gateway_url = gateway.url  # what GET /gateway/bot answers
        stop = asyncio.Event()
        supervisor = GatewaySupervisor(client_options=FAST)
        worker = asyncio.create_task(supervisor.run(stop))

        await gateway.wait_for(lambda g: g.frames(2))
        identify = gateway.frames(2)[0]["d"]
        assert identify["token"] == BOT_TOKEN
        assert identify["intents"] == INTENTS == (1 << 9) | (1 << 12) | (1 << 15)
        assert gateway.current.path.startswith("/?") and "v=10" in gateway.current.path
        client = supervisor.clients[BOT_TOKEN][1]
        await asyncio.wait_for(client.ready.wait(), 5)

        await gateway.dispatch("MESSAGE_CREATE", {**fixture("message_create_dm"), "content": "Hello there"})
        delivered = await eventually(lambda: discord.delivered("290926798999357250"))
        assert delivered == [f"Hi! I'm {bot.agent.name}. How can I help you today?"]
        stored = await sync_to_async(lambda: list(Message.objects.filter(author_kind="user").values_list(
            "text", "platform_message_id", "conversation__contact__external_id")))()
        assert stored == [("Hello there", "334385199974967042", "53908099506183680")]

        stop.set()
        await asyncio.wait_for(worker, 5)
    await sync_to_async(connections.close_all)()  # the worker thread's connection


async def start_client(gateway: FakeGateway, received: list) -> tuple[GatewayClient, asyncio.Task]:
    async def on_message(message, bot_user_id):
        received.append((message["id"], bot_user_id))

    client = GatewayClient(token=BOT_TOKEN, gateway_url=gateway.url, on_message=on_message, **FAST)
    task = asyncio.create_task(client.run())
    await asyncio.wait_for(client.ready.wait(), 5)
    return client, task


def gateway_message(message_id: str) -> dict:
    return {**fixture("message_create_dm"), "id": message_id}


async def test_reconnect_resumes_the_session_and_replays_what_was_missed():
    received = []
    async with FakeGateway() as gateway:
        client, task = await start_client(gateway, received)
        await gateway.dispatch("MESSAGE_CREATE", gateway_message("1"))
        await eventually(lambda: received, timeout=2)
        await gateway.send_op(1)  # Discord asks for a heartbeat now
        assert (await gateway.wait_for(lambda g: g.frames(1)))[0]["d"] == 2

        await gateway.send_op(7)  # RECONNECT
        gateway.sent.append({"op": 0, "s": gateway.seq + 1, "t": "MESSAGE_CREATE", "d": gateway_message("2")})
        gateway.seq += 1  # written while the bot was away: replayed on RESUME
        await gateway.wait_for(lambda g: g.frames(6))

        resume = gateway.frames(6)[0]["d"]
        assert resume == {"token": BOT_TOKEN, "session_id": gateway.session_id, "seq": 2}  # READY, message 1
        assert gateway.current.path.startswith("/resume?") and "encoding=json" in gateway.current.path
        assert len(gateway.frames(2)) == 1  # no second IDENTIFY
        await eventually(lambda: len(received) == 2, timeout=2)
        assert received == [("1", BOT_ID), ("2", BOT_ID)]

        await client.stop()
        await asyncio.wait_for(task, 5)


async def test_a_zombie_connection_is_dropped_and_resumed():
    async with FakeGateway(heartbeat_interval_ms=100) as gateway:
        client, task = await start_client(gateway, [])
        # Heartbeats carry the last sequence number (READY's).
        await gateway.wait_for(lambda g: any(frame["d"] == 1 for frame in g.frames(1)))

        gateway.ack_heartbeats = False  # the connection goes silent
        await gateway.wait_for(lambda g: g.frames(6), timeout=5)
        gateway.ack_heartbeats = True

        assert gateway.frames(6)[0]["d"] == {"token": BOT_TOKEN, "session_id": gateway.session_id, "seq": 1}
        assert len(gateway.peers) == 2 and len(gateway.frames(2)) == 1
        await client.stop()
        await asyncio.wait_for(task, 5)


async def test_an_invalid_session_identifies_again_on_the_first_url():
    async with FakeGateway() as gateway:
        client, task = await start_client(gateway, [])
        gateway.forget_session()
        await gateway.send_op(7)
        await gateway.wait_for(lambda g: len(g.frames(2)) == 2)  # RESUME refused → IDENTIFY
        assert [peer.path.split("?")[0] for peer in gateway.peers] == ["/", "/resume", "/"]
        assert gateway.frames(6)[0]["op"] == 6
        await client.stop()
        await asyncio.wait_for(task, 5)


async def test_when_the_resume_url_cannot_be_reached_it_identifies_again_on_the_first_url():
    async with FakeGateway() as gateway:
        gateway.resume_url_in_ready = "ws://127.0.0.1:1/"  # nothing listens there: refused
        client, task = await start_client(gateway, [])
        await gateway.send_op(7)
        await gateway.wait_for(lambda g: len(g.frames(2)) == 2)
        assert gateway.frames(6) == [] and len(gateway.peers) == 2
        await client.stop()
        await asyncio.wait_for(task, 5)


async def test_a_refused_token_stops_the_client_instead_of_hammering_discord():
    async with FakeGateway() as gateway:
        client, task = await start_client(gateway, [])
        await gateway.close_current(4004, "Authentication failed.")
        with pytest.raises(FatalGatewayError, match="4004"):
            await asyncio.wait_for(task, 5)
        assert len(gateway.peers) == 1


@pytest.mark.django_db(transaction=True)
async def test_a_database_error_while_storing_a_gateway_message_is_retried(bot, discord, monkeypatch, caplog):
    from django.db import OperationalError

    real_store, calls = discord_gateway.store_gateway_message, []

    def flaky_store(*args):
        calls.append(args)
        if len(calls) == 1:
            raise OperationalError("server closed the connection unexpectedly")
        return real_store(*args)

    monkeypatch.setattr(discord_gateway, "store_gateway_message", flaky_store)
    monkeypatch.setattr(discord_gateway, "STORE_BACKOFF_SECONDS", 0.01)
    on_message = GatewaySupervisor._handler(bot.pk)
    await on_message({**fixture("message_create_dm"), "content": "Hello there"}, BOT_ID)
    await on_message({**fixture("message_create_dm"), "content": "Hello there"}, BOT_ID)  # a replay: idempotent

    assert len(calls) == 3
    stored = await sync_to_async(lambda: list(Message.objects.filter(author_kind="user").values_list(
        "text", "platform_message_id")))()
    assert stored == [("Hello there", "334385199974967042")]
    assert "trying again" in caplog.text and "server closed" not in caplog.text
    await sync_to_async(connections.close_all)()


@pytest.mark.django_db(transaction=True)
async def test_a_gateway_message_is_given_up_and_logged_when_the_database_stays_away(bot, monkeypatch, caplog):
    from django.db import OperationalError

    calls = []

    def broken_store(*args):
        calls.append(args)
        raise OperationalError("could not connect to server")

    monkeypatch.setattr(discord_gateway, "store_gateway_message", broken_store)
    assert await discord_gateway.store_with_retries(bot.pk, fixture("message_create_dm"), BOT_ID,
                                                    attempts=3, backoff=0.01) == 0
    assert len(calls) == 3
    assert "gave up storing message 334385199974967042 after 3 attempts (OperationalError)" in caplog.text
    await sync_to_async(connections.close_all)()


def test_the_gateway_url_comes_from_get_gateway_bot(discord, settings):
    discord.gateway_url = "wss://gateway.discord.gg"
    assert gateway_url_for(BOT_TOKEN) == "wss://gateway.discord.gg"
    settings.DISCORD_GATEWAY_URL = "ws://127.0.0.1:9/"
    assert gateway_url_for(BOT_TOKEN) == "ws://127.0.0.1:9/"
    settings.DISCORD_GATEWAY_URL = ""
    with pytest.raises(FatalGatewayError, match="401: Unauthorized"):
        gateway_url_for("wrong-token")


def test_the_worker_serves_active_connections_with_real_tokens(bot, agent):
    demo_secrets, demo_config = DiscordAdapter().demo_credentials()
    ChannelConnectionFactory(agent=agent, platform=Platform.DISCORD, secrets=demo_secrets,
                             config={**demo_config, "demo": True})
    ChannelConnectionFactory(agent=agent, platform=Platform.DISCORD, secrets={"bot_token": "off"}, is_active=False)
    assert active_bots() == {BOT_TOKEN: bot.pk}
    assert len(active_bots(include_demo=True)) == 2


def test_adapter_is_registered_with_its_limits():
    from channels_gateway.adapters.registry import adapter_for

    adapter = adapter_for(Platform.DISCORD)
    assert isinstance(adapter, DiscordAdapter) and adapter.max_message_length == 2000
    assert set(adapter.secret_fields) == {"bot_token", "public_key"} and "application_id" in adapter.config_fields
    assert "MESSAGE CONTENT" in adapter.setup_help and "discord_gateway" in adapter.setup_help


def test_register_webhook_installs_the_commands_and_sets_the_endpoint(bot, discord):
    from channels_gateway.services import connection_register_webhook

    outcome = connection_register_webhook(connection=bot)
    url = f"/webhooks/discord/{bot.key}/"
    assert url in outcome and discord.application["interactions_endpoint_url"].endswith(url)
    assert sorted(command["name"] for command in discord.commands) == ["ask", "human"]
    ask_command = next(command for command in discord.commands if command["name"] == "ask")
    assert ask_command["options"][0]["name"] == "text" and ask_command["contexts"] == [0, 1]


def test_register_webhook_reports_discords_own_words_when_the_check_fails(bot, discord):
    from channels_gateway.adapters.base import PermanentDeliveryError
    from channels_gateway.services import connection_register_webhook

    discord.endpoint_reachable = False
    bot.config = {key: value for key, value in bot.config.items() if key != "application_id"}
    bot.save()
    try:
        with pytest.raises(PermanentDeliveryError) as refused:
            connection_register_webhook(connection=bot)
    finally:
        discord.endpoint_reachable = True
    assert refused.value.reason == ("Discord: Invalid Form Body (50035): "
                                    "The specified interactions endpoint url could not be verified.")
    assert len(discord.commands) == 2  # the app id was looked up with GET /applications/@me


def test_a_long_answer_in_a_server_channel_is_addressed_once_and_fits(bot, discord):
    contact = ContactFactory(connection=bot, external_id="53908099506183680")
    conversation = ConversationFactory(contact=contact, external_thread_id="290926798999357251:53908099506183680")
    message = reply(conversation, "x" * 1970 + " " + "y" * 100)  # with the mention, 2091 in all
    assert deliver_message(message_id=message.pk) == "sent"
    parts = discord.delivered("290926798999357251")
    assert parts == ["<@53908099506183680> " + "x" * 1970, "y" * 100]
    assert all(len(part) <= 2000 for part in parts)
    assert [call.json()["allowed_mentions"] for call in discord.message_calls()] == [
        {"parse": [], "users": ["53908099506183680"]}, {"parse": []}]


def test_a_teammate_typing_shows_as_the_bot_typing(conversation, discord):
    from channels_gateway.adapters.registry import adapter_for

    adapter_for(Platform.DISCORD).show_typing(conversation.connection, conversation.external_thread_id, "Ana")
    assert discord.typing_in == [conversation.external_thread_id.split(":")[0]]
