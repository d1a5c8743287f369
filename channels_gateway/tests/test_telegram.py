"""Telegram: updates in through the webhook (secret-token header), replies out through a fake
Bot API on 127.0.0.1 that answers as Telegram documents (status codes, error bodies, retry_after)."""

import copy
import json
import logging
import re
import traceback
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone

from channels_gateway.adapters.base import OutboundMessage, PermanentDeliveryError, RetryableDeliveryError
from channels_gateway.adapters.message_parts import split_message, utf16_length
from channels_gateway.adapters.registry import adapter_for
from channels_gateway.adapters.telegram import TelegramAdapter
from channels_gateway.models import ChannelConnection, Platform
from channels_gateway.services import connection_register_webhook, deliver_message
from channels_gateway.tests.factories import ChannelConnectionFactory
from channels_gateway.tests.round_trip import Channel, run_round_trip
from conversations.models import AuthorKind, Contact, Conversation, Message
from conversations.services.messages import post_message_to_contact
from tests.fakes.odd_payloads import check_instead_of_storing, odd_variants
from tests.fakes.telegram_api import FakeTelegram

pytestmark = pytest.mark.django_db

FIXTURES = Path(__file__).parent / "fixtures" / "telegram"
BOT_TOKEN = "7000000001:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw_"
SECRET = "k9Zx_2-QpLmW8vRt"
HEADER = "X-Telegram-Bot-Api-Secret-Token"
USER_CHAT = "1111111"  # the documented example's user, chatting privately with the bot


def fixture(name: str) -> dict:
    return copy.deepcopy(json.loads((FIXTURES / f"{name}.json").read_text()))


@pytest.fixture
def telegram(settings):
    with FakeTelegram(BOT_TOKEN) as fake:
        settings.TELEGRAM_API_BASE_URL = fake.url
        yield fake


@pytest.fixture
def connection(agent, telegram):
    return ChannelConnectionFactory(
        agent=agent, platform=Platform.TELEGRAM, config={},
        secrets={"bot_token": BOT_TOKEN, "secret_token": SECRET},
    )


def post(client, connection, body, *, secret: str | None = SECRET):
    data = body if isinstance(body, (bytes, str)) else json.dumps(body)
    headers = {HEADER: secret} if secret is not None else {}
    return client.post(f"/webhooks/telegram/{connection.key}/", data=data, content_type="application/json",
                       headers=headers)


class User:
    """A Telegram user writing to the bot in a private chat, as the documented update shows."""

    _update_ids = iter(range(20_000, 30_000))

    def __init__(self, user_id: int = 1111111, first_name: str = "Test", last_name: str | None = "Test Lastname"):
        self.user_id, self.first_name, self.last_name = user_id, first_name, last_name
        self.message_ids = iter(range(1, 10_000))

    def update(self, text: str) -> dict:
        update = fixture("text_message")
        message = update["message"]
        update["update_id"] = next(self._update_ids)
        message.pop("entities")
        message.update(message_id=next(self.message_ids), text=text)
        for party in (message["from"], message["chat"]):
            party.update(id=self.user_id, first_name=self.first_name, last_name=self.last_name)
            if self.last_name is None:
                del party["last_name"]
        return update


def stored_user_texts() -> list[str]:
    return list(Message.objects.filter(author_kind=AuthorKind.USER).order_by("pk").values_list("text", flat=True))


def conversation_for(connection, chat_id: str = USER_CHAT) -> Conversation:
    contact = Contact.objects.create(connection=connection, organization=connection.organization,
                                     external_id=chat_id, display_name="Test")
    return Conversation.objects.create(connection=connection, organization=connection.organization,
                                       agent=connection.agent, contact=contact, external_thread_id=chat_id)


def outbound(conversation, text: str) -> Message:
    """The product's one outbound path; its on-commit delivery is run by hand with deliver()."""
    return post_message_to_contact(conversation=conversation, author_kind=AuthorKind.AI, text=text)


def due_now(message: Message) -> None:
    """Time passes: the retry is due."""
    Message.objects.filter(pk=message.pk).update(next_attempt_at=timezone.now())


# --- the whole scenario ----------------------------------------------------------------------


def test_round_trip_through_telegram(client, connection, telegram, ana, django_capture_on_commit_callbacks):
    user = User()
    session = run_round_trip(
        Channel(connection, say=lambda text: post(client, connection, user.update(text)),
                delivered=lambda: telegram.delivered(USER_CHAT)),
        teammate=ana, capture=django_capture_on_commit_callbacks,
    )
    assert session.conversation.external_thread_id == USER_CHAT
    assert session.conversation.contact.display_name == "Test Test Lastname"
    assert all(call.get("parse_mode") is None for call in telegram.calls("sendMessage"))


# --- inbound: verification, idempotency, payloads --------------------------------------------


def test_the_documented_update_is_stored_and_answered_in_the_users_chat(
    client, connection, telegram, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = post(client, connection, fixture("text_message"))
    assert response.status_code == 200 and response.json() == {"ok": True}
    message = Message.objects.get(author_kind=AuthorKind.USER)
    assert (message.text, message.platform_message_id) == ("/start", "1365")
    assert message.conversation.external_thread_id == USER_CHAT
    assert (message.conversation.contact.external_id, message.conversation.contact.display_name) == (
        "1111111", "Test Test Lastname")
    reply = Message.objects.get(author_kind=AuthorKind.AI)
    assert telegram.delivered(USER_CHAT) == [reply.text] and reply.delivery_status == "sent"


@pytest.mark.parametrize("secret", [None, "", "wrong", SECRET + "x", SECRET[:-1], SECRET.upper()])
def test_an_update_without_the_right_secret_token_is_refused_and_changes_nothing(
    client, connection, telegram, secret
):
    response = post(client, connection, fixture("text_message"), secret=secret)
    assert response.status_code == 401
    assert not Message.objects.exists() and not Conversation.objects.exists() and not Contact.objects.exists()
    assert telegram.requests == []


def test_a_connection_without_a_secret_token_takes_nothing(client, agent, telegram):
    open_door = ChannelConnectionFactory(agent=agent, platform=Platform.TELEGRAM, secrets={"bot_token": BOT_TOKEN})
    assert post(client, open_door, fixture("text_message"), secret="").status_code == 401
    assert post(client, open_door, fixture("text_message"), secret=None).status_code == 401
    assert not Message.objects.exists()


def test_a_redelivered_update_is_stored_once_and_answered_once(
    client, connection, telegram, django_capture_on_commit_callbacks
):
    update = User().update("Where is my order?")
    for _ in range(3):  # Telegram retries when it did not see our 200 in time
        with django_capture_on_commit_callbacks(execute=True):
            assert post(client, connection, update).status_code == 200
    assert stored_user_texts() == ["Where is my order?"]
    assert len(telegram.delivered(USER_CHAT)) == 1


def test_a_message_in_an_ongoing_conversation_is_one_statement(client, connection, telegram,
                                                                django_assert_num_queries):
    # The webhook's hot path (bench/perf, figure 1): the web process remembers the connection,
    # and one statement locks the conversation, stores the message and moves last_message_at
    # (conversations/services/inbound_store.py).
    user = User()
    post(client, connection, user.update("Where is my order?"))
    with django_assert_num_queries(1):
        assert post(client, connection, user.update("It was due on Monday")).status_code == 200
    assert stored_user_texts() == ["Where is my order?", "It was due on Monday"]


@pytest.mark.django_db(transaction=True)
def test_new_credentials_count_at_once_and_the_old_ones_stop_at_once(client, connection):
    user = User()
    assert post(client, connection, user.update("Hi")).status_code == 200  # the connection is remembered
    # Committed elsewhere (an admin on another web process): this process is not told.
    ChannelConnection.objects.filter(pk=connection.pk).update(secrets={**connection.secrets, "secret_token": "new"})
    assert post(client, connection, user.update("Forged with the old secret")).status_code == 401
    assert post(client, connection, user.update("Hello again"), secret="new").status_code == 200
    assert stored_user_texts() == ["Hi", "Hello again"]


@pytest.mark.django_db(transaction=True)
def test_a_connection_switched_off_elsewhere_takes_no_more_messages(client, connection):
    user = User()
    assert post(client, connection, user.update("Hi")).status_code == 200  # the connection is remembered
    ChannelConnection.objects.filter(pk=connection.pk).update(is_active=False)
    response = post(client, connection, user.update("Anyone?"))
    assert response.status_code == 404 and response.json() == {"error": "unknown_connection"}
    assert stored_user_texts() == ["Hi"]


def test_the_same_message_id_in_another_chat_is_another_message(client, connection, telegram):
    # message_id is unique within a chat only.
    first, second = User(1111111).update("hello"), User(2222222, "Other").update("hello")
    assert first["message"]["message_id"] == second["message"]["message_id"]
    post(client, connection, first)
    post(client, connection, second)
    assert Message.objects.filter(author_kind=AuthorKind.USER).count() == 2


@pytest.mark.parametrize("body", [
    b"{not json",
    b"\xff\xfe",
    b"[]",
    b'"hello"',
    {"message": {"message_id": 1, "chat": {"id": 1, "type": "private"}, "text": "no update_id"}},
    {"update_id": "10000", "message": {}},
    {"update_id": 10000, "message": "hi"},
    {"update_id": 10000, "message": {"message_id": 1, "text": "no chat"}},
    {"update_id": 10000, "message": {"chat": {"id": 1, "type": "private"}, "text": "no message_id"}},
])
def test_a_malformed_body_is_a_400_and_stores_nothing(client, connection, body):
    response = post(client, connection, body)
    assert response.status_code == 400
    assert not Message.objects.exists()


def test_verification_comes_before_reading_the_body(client, connection):
    assert post(client, connection, b"{not json", secret="wrong").status_code == 401


@pytest.mark.parametrize("name, text", [
    ("photo_with_caption", "[Photo] The parcel arrived like this"),
    ("sticker", "[Sticker 😀]"),
    ("voice", "[Voice message]"),
    ("document", "[File: invoice-1234.pdf] Here is my invoice"),
    ("location", "[Location 48.85809, 2.29469]"),
    ("animation", "[GIF]"),
])
def test_content_other_than_text_is_stored_as_a_readable_placeholder(client, connection, name, text):
    update = fixture(name)
    assert post(client, connection, update).status_code == 200
    message = Message.objects.get(author_kind=AuthorKind.USER)
    assert message.text == text
    assert message.platform_message_id == str(update["message"]["message_id"])


def test_a_message_type_newer_than_this_adapter_still_reaches_the_inbox(client, connection):
    update = fixture("text_message")
    del update["message"]["text"], update["message"]["entities"]
    update["message"]["hologram"] = {"file_id": "future"}
    assert post(client, connection, update).status_code == 200
    assert stored_user_texts() == ["[Unsupported message]"]


@pytest.mark.parametrize("name", [
    "edited_message", "channel_post", "my_chat_member", "callback_query", "group_message", "pinned_message",
])
def test_updates_that_are_not_a_user_writing_privately_are_acknowledged_and_ignored(
    client, connection, telegram, name
):
    response = post(client, connection, fixture(name))
    assert response.status_code == 200 and response.json() == {"ok": True}
    assert not Message.objects.exists() and not Conversation.objects.exists()
    assert telegram.requests == []


def test_an_edit_does_not_change_the_stored_message(client, connection):
    post(client, connection, fixture("text_message"))
    post(client, connection, fixture("edited_message"))
    assert stored_user_texts() == ["/start"]


# --- outbound --------------------------------------------------------------------------------


def test_replies_are_plain_text_so_nothing_the_user_wrote_is_misparsed(connection, telegram):
    text = "Use *code* _SAVE10_ at <checkout> & [click](here)"
    message = outbound(conversation_for(connection), text)
    assert deliver_message(message_id=message.pk) == "sent"
    assert telegram.delivered(USER_CHAT) == [text]
    assert telegram.calls("sendMessage") == [{"chat_id": USER_CHAT, "text": text}]
    message.refresh_from_db()
    assert message.platform_message_id == "1001"


def test_a_rate_limit_waits_at_least_retry_after_then_delivers(connection, telegram):
    telegram.fail(429, retry_after=37)
    message = outbound(conversation_for(connection), "Your refund is on its way.")
    before = timezone.now()
    assert deliver_message(message_id=message.pk) == "pending"
    message.refresh_from_db()
    assert message.next_attempt_at >= before + timedelta(seconds=37)
    assert message.delivery_error == "Telegram rate limit (429)"
    assert telegram.delivered(USER_CHAT) == []
    assert deliver_message(message_id=message.pk) == "skipped"  # not due yet

    due_now(message)
    assert deliver_message(message_id=message.pk) == "sent"
    assert telegram.delivered(USER_CHAT) == ["Your refund is on its way."]
    message.refresh_from_db()
    assert (message.delivery_status, message.delivery_error) == ("sent", "")


@pytest.mark.parametrize("status", [500, 502])
def test_a_telegram_server_error_is_retried(connection, telegram, status):
    telegram.fail(status)
    message = outbound(conversation_for(connection), "Still there?")
    assert deliver_message(message_id=message.pk) == "pending"
    message.refresh_from_db()
    assert message.next_attempt_at > timezone.now() and f"({status})" in message.delivery_error
    due_now(message)
    assert deliver_message(message_id=message.pk) == "sent"
    assert telegram.delivered(USER_CHAT) == ["Still there?"]


@pytest.mark.parametrize("setup, reason", [
    (lambda fake, connection: fake.blocked_chats.add(USER_CHAT), "Telegram: Forbidden: bot was blocked by the user"),
    (lambda fake, connection: fake.unknown_chats.add(USER_CHAT), "Telegram: Bad Request: chat not found"),
    (lambda fake, connection: ChannelConnection.objects.filter(pk=connection.pk).update(
        secrets={"bot_token": "7000000001:revoked", "secret_token": SECRET}), "Telegram: Unauthorized"),
    (lambda fake, connection: ChannelConnection.objects.filter(pk=connection.pk).update(
        secrets={"bot_token": "not/a-token", "secret_token": SECRET}), "Telegram: Not Found"),
])
def test_a_permanent_refusal_fails_the_message_with_telegrams_reason(connection, telegram, setup, reason):
    setup(telegram, connection)
    message = outbound(conversation_for(connection), "Hello?")
    assert deliver_message(message_id=message.pk) == "failed"
    message.refresh_from_db()
    assert (message.delivery_status, message.delivery_error, message.next_attempt_at) == ("failed", reason, None)
    assert "revoked" not in message.delivery_error and "not/a-token" not in message.delivery_error
    assert deliver_message(message_id=message.pk) == "skipped"  # never tried again
    assert telegram.delivered(USER_CHAT) == []


def long_text() -> str:
    # Emoji are one code point but two UTF-16 units: 4096 code points would be too long for Telegram.
    return "\n\n".join(
        " ".join(f"Parcel {shelf}-{n} 📦📦📦📦📦📦 is ready." for n in range(140)) for shelf in range(3)
    )


def test_a_long_reply_is_split_at_telegrams_limit_in_order_with_nothing_lost(connection, telegram):
    text = long_text()
    # Counting code points instead of UTF-16 units would send parts Telegram refuses as too long.
    assert any(utf16_length(part) > 4096 for part in split_message(text, 4096))
    message = outbound(conversation_for(connection), text)
    assert deliver_message(message_id=message.pk) == "sent"
    parts = telegram.delivered(USER_CHAT)
    assert len(parts) == len(telegram.calls("sendMessage")) >= 3
    assert all(utf16_length(part) <= 4096 for part in parts)
    assert " ".join(parts).split() == text.split()
    message.refresh_from_db()
    assert message.platform_message_id == ",".join(str(1001 + index) for index in range(len(parts)))


def test_a_retry_after_a_partial_failure_sends_only_the_remaining_parts(connection, telegram):
    text = long_text()
    telegram.pass_through(1).fail(429, retry_after=1)  # the second part hits the rate limit
    message = outbound(conversation_for(connection), text)
    assert deliver_message(message_id=message.pk) == "pending"
    first_attempt = telegram.delivered(USER_CHAT)
    assert len(first_attempt) == 1
    message.refresh_from_db()
    assert message.delivered_parts == 1

    due_now(message)
    assert deliver_message(message_id=message.pk) == "sent"
    parts = telegram.delivered(USER_CHAT)
    assert parts[0] == first_attempt[0] and len(parts) == len(set(parts)) >= 3  # none twice
    assert " ".join(parts).split() == text.split()


def test_each_users_replies_go_to_their_own_chat(client, connection, telegram, django_capture_on_commit_callbacks):
    alice, bob = User(1111111, "Alice"), User(2222222, "Bob", last_name=None)
    with django_capture_on_commit_callbacks(execute=True):
        post(client, connection, alice.update("Hello there"))
        post(client, connection, bob.update("Hello there"))
    greeting = f"Hi! I'm {connection.agent.name}. How can I help you today?"
    assert telegram.delivered("1111111") == [greeting] and telegram.delivered("2222222") == [greeting]

    bobs = Conversation.objects.get(external_thread_id="2222222")
    assert bobs.contact.display_name == "Bob"
    message = outbound(bobs, "Bob, your parcel left the warehouse.")
    deliver_message(message_id=message.pk)
    assert telegram.delivered("2222222")[-1] == "Bob, your parcel left the warehouse."
    assert telegram.delivered("1111111") == [greeting]


# --- the bot token stays secret --------------------------------------------------------------


def test_the_bot_token_never_reaches_a_reason_or_a_log_line(connection, telegram, settings, caplog):
    conversation = conversation_for(connection)
    with caplog.at_level(logging.DEBUG):
        telegram.fail(502)
        message = outbound(conversation, "one")
        deliver_message(message_id=message.pk)
        due_now(message)
        deliver_message(message_id=message.pk)
        telegram.blocked_chats.add(USER_CHAT)
        deliver_message(message_id=outbound(conversation, "two").pk)
    assert "/bot<redacted>/sendMessage" in caplog.text  # urllib3 did log the request line
    assert BOT_TOKEN not in caplog.text
    assert all(BOT_TOKEN not in error for error in Message.objects.values_list("delivery_error", flat=True))


def test_an_unreachable_telegram_is_retried_without_the_url_in_the_error(connection, settings):
    with FakeTelegram(BOT_TOKEN) as gone:
        settings.TELEGRAM_API_BASE_URL = gone.url
    message = OutboundMessage(message_id=1, conversation_id=1, thread_id=USER_CHAT, text="hi",
                              author_kind="ai", author_name="Bot", created_at="")
    with pytest.raises(RetryableDeliveryError) as failure:
        TelegramAdapter().send(connection, message)
    assert failure.value.reason == "Telegram could not be reached"
    assert failure.value.__cause__ is None and failure.value.__context__ is None
    assert BOT_TOKEN not in "".join(traceback.format_exception(failure.value))


# --- webhook registration and demo credentials -----------------------------------------------


def test_registering_the_webhook_hands_telegram_the_url_and_secret(client, connection, telegram, settings):
    settings.SITE_URL = "https://handoff.example"
    assert connection_register_webhook(connection=connection) == "Webhook was set"
    assert telegram.webhook == {
        "url": f"https://handoff.example/webhooks/telegram/{connection.key}/",
        "secret_token": SECRET,
        "allowed_updates": ["message"],
        "drop_pending_updates": False,
    }
    assert connection_register_webhook(connection=connection) == "Webhook is already set"
    # What Telegram now sends back is exactly what the webhook accepts.
    assert post(client, connection, fixture("text_message"), secret=telegram.webhook["secret_token"]).status_code == 200


def test_telegrams_refusal_to_register_is_shown_with_its_reason(connection, telegram, settings):
    settings.SITE_URL = "http://localhost:8000"
    with pytest.raises(PermanentDeliveryError) as failure:
        connection_register_webhook(connection=connection)
    assert failure.value.reason == "Telegram: Bad Request: bad webhook: An HTTPS URL must be provided for webhook"
    assert telegram.webhook == {}


def test_registering_without_a_usable_secret_token_asks_for_one(agent, telegram):
    connection = ChannelConnectionFactory(agent=agent, platform=Platform.TELEGRAM,
                                          secrets={"bot_token": BOT_TOKEN, "secret_token": "has spaces!"})
    with pytest.raises(PermanentDeliveryError, match="secret token"):
        TelegramAdapter().register_webhook(connection, "https://handoff.example/webhooks/telegram/x/")
    assert telegram.requests == []


def test_demo_credentials_are_fresh_and_let_anyone_play_telegram(client, agent, telegram):
    adapter = adapter_for(Platform.TELEGRAM)
    (secrets_one, config), (secrets_two, _) = adapter.demo_credentials(), adapter.demo_credentials()
    assert secrets_one != secrets_two and config == {}
    assert re.fullmatch(r"\d{10}:[A-Za-z0-9_-]{35}", secrets_one["bot_token"])
    assert re.fullmatch(r"[A-Za-z0-9_-]{1,256}", secrets_one["secret_token"])

    demo = ChannelConnectionFactory(agent=agent, platform=Platform.TELEGRAM, secrets=secrets_one, config=config)
    side = adapter.platform_side(demo)
    assert side == {"secret_token": secrets_one["secret_token"], "header": HEADER}
    response = client.post(f"/webhooks/telegram/{demo.key}/", data=json.dumps(fixture("text_message")),
                           content_type="application/json", headers={side["header"]: side["secret_token"]})
    assert response.status_code == 200
    assert stored_user_texts() == ["/start"]


# --- bodies that are too large, too deep or oddly shaped -------------------------------------


def test_a_body_over_the_upload_limit_is_a_413_not_a_server_error(client, connection, settings):
    # A 503 would make Telegram send the same update again and again.
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    assert post(client, connection, User().update("x" * 2000)).status_code == 413
    assert post(client, connection, User().update("x" * 2000), secret="wrong").status_code == 401
    assert not Message.objects.exists()


def test_json_nested_too_deep_to_parse_is_a_400(client, connection):
    body = b'{"update_id": 1, "message": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    assert post(client, connection, body).status_code == 400
    assert not Message.objects.exists()


def odd_message(field: str, value) -> dict:
    update = User().update("unused")
    del update["message"]["text"]
    update["message"][field] = value
    return update


@pytest.mark.parametrize("field, value, text", [
    ("audio", {"file_id": "a", "performer": 7, "title": ["Song"]}, "[Audio: 7]"),
    ("audio", {"file_id": "a", "performer": {"name": "x"}, "title": 1999}, "[Audio: 1999]"),
    ("venue", {"location": {"latitude": 1, "longitude": 2}, "title": 42, "address": {"street": "x"}},
     "[Venue: 42]"),
    ("contact", {"phone_number": 5551234, "first_name": ["Ann"], "last_name": "Lee"}, "[Contact: Lee, 5551234]"),
    ("location", {"latitude": 10**400, "longitude": 2.5}, "[Location]"),
    ("document", {"file_name": {"name": "a.pdf"}}, "[File]"),
    ("poll", {"question": {"text": "Which?"}}, "[Poll]"),
    ("dice", {"emoji": 7, "value": [6]}, "[Dice 7]"),
    ("sticker", {"emoji": ["😀"]}, "[Sticker]"),
])
def test_a_placeholder_field_of_an_unexpected_type_is_still_stored(client, connection, field, value, text):
    assert post(client, connection, odd_message(field, value)).status_code == 200
    assert stored_user_texts() == [text]


def test_an_odd_sender_name_is_not_a_server_error(client, connection):
    update = User().update("Hello")
    update["message"]["from"].update(first_name=["A"], last_name=7, username={"x": 1})
    assert post(client, connection, update).status_code == 200
    assert Contact.objects.get().display_name == "7"


@pytest.mark.parametrize("name", ["text_message", "photo_with_caption", "location", "document", "sticker"])
def test_no_oddly_shaped_update_is_ever_a_server_error(client, connection, name, monkeypatch):
    check_instead_of_storing(monkeypatch)
    statuses = {where: post(client, connection, update).status_code
                for where, update in odd_variants(fixture(name))}
    assert {where: status for where, status in statuses.items() if status not in (200, 400)} == {}


def test_a_teammate_typing_shows_as_the_bot_typing(connection, telegram):
    from channels_gateway.adapters.registry import adapter_for

    adapter_for(Platform.TELEGRAM).show_typing(connection, USER_CHAT, "Ana")
    assert telegram.chat_actions == [(USER_CHAT, "typing")]
    telegram.tokens.clear()  # a refused hint changes nothing and raises nothing
    adapter_for(Platform.TELEGRAM).show_typing(connection, USER_CHAT, "Ana")
