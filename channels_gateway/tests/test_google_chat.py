"""Google Chat: signed interaction events in, Chat REST API messages out, against a fake Google
(certificates, OAuth token endpoint, Chat API) on 127.0.0.1 and Chat's documented payloads."""

import base64
import copy
import json
import secrets
import time
from datetime import timedelta
from functools import cache
from pathlib import Path

import pytest
from django.utils import timezone
from google.auth import crypt as google_crypt
from google.auth import jwt as google_jwt

from channels_gateway.adapters.google_chat import GoogleChatAdapter, clear_caches
from channels_gateway.models import Platform
from channels_gateway.services import deliver_message
from channels_gateway.tests.delivery import make_due
from channels_gateway.tests.factories import ChannelConnectionFactory
from channels_gateway.tests.round_trip import Channel, run_round_trip
from conversations.models import AuthorKind, Contact, Conversation, Message
from conversations.services.messages import post_message_to_contact
from tests.fakes.google_chat_api import ChatSigner, FakeGoogle, new_rsa_key, service_account_info
from tests.fakes.odd_payloads import check_instead_of_storing, odd_variants

FIXTURES = Path(__file__).parent / "fixtures" / "google_chat"
PROJECT_NUMBER = "123456789012"
DM_SPACE = "spaces/AAAAdmspace"
ROOM = "spaces/AAAAAAAAAAA"
ROOM_THREAD = "spaces/AAAAAAAAAAA/threads/BBBBBBBBBBB"
IZUMI = "users/12345678901234567890"


# RSA keys take a moment to make: one of each per test run.
@cache
def chat_key():
    return new_rsa_key()


@cache
def other_key():
    return new_rsa_key()


@cache
def app_key():
    return new_rsa_key()


def fixture(name: str) -> dict:
    return copy.deepcopy(_fixture(name))


@cache
def _fixture(name: str) -> dict:
    return json.loads((FIXTURES / name).read_text())


@pytest.fixture(scope="module")
def google_server():
    with FakeGoogle() as fake:  # one server for the module: stopping one takes half a second
        yield fake


@pytest.fixture
def google(google_server, settings):
    google_server.reset()
    clear_caches()
    settings.GOOGLE_CHAT_API_BASE_URL = f"{google_server.url}/v1"
    settings.GOOGLE_OAUTH_TOKEN_URL = f"{google_server.url}/token"
    settings.GOOGLE_CHAT_CERTS_URL = f"{google_server.url}/certs/chat"
    settings.GOOGLE_OIDC_CERTS_URL = f"{google_server.url}/certs/oidc"
    yield google_server
    clear_caches()


@pytest.fixture
def chat(google):
    """Google Chat's signing key, its certificate served by the fake."""
    return google.trust(ChatSigner(key=chat_key(), key_id="chat-key-1"))


@pytest.fixture
def connection(agent, google):
    info = google.register_service_account(service_account_info(key=app_key()), key=app_key())
    return ChannelConnectionFactory(
        agent=agent, platform=Platform.GOOGLE_CHAT, name="Google Chat",
        secrets={"service_account_json": json.dumps(info)}, config={"audience": PROJECT_NUMBER},
    )


def post(client, connection, event, token: str | None):
    headers = {"HTTP_AUTHORIZATION": f"Bearer {token}"} if token is not None else {}
    body = event if isinstance(event, str) else json.dumps(event)
    return client.post(f"/webhooks/google-chat/{connection.key}/", data=body, content_type="application/json",
                       **headers)


def dm_event(text: str, *, message_id: str | None = None) -> dict:
    event = fixture("message_dm.json")
    message_id = message_id or secrets.token_hex(6)
    event["message"]["name"] = f"{DM_SPACE}/messages/{message_id}.{message_id}"
    event["message"]["text"] = event["message"]["argumentText"] = text
    return event


def user_messages():
    return list(Message.objects.filter(author_kind=AuthorKind.USER).order_by("pk").values_list("text", flat=True))


def nothing_stored():
    return not Message.objects.exists() and not Contact.objects.exists() and not Conversation.objects.exists()


# --- The whole journey -------------------------------------------------------------------------


def test_round_trip_in_a_direct_message(client, connection, chat, google, ana, django_capture_on_commit_callbacks):
    def say(text):
        return post(client, connection, dm_event(text), chat.token(PROJECT_NUMBER))

    session = run_round_trip(
        Channel(connection, say, lambda: google.texts(space=DM_SPACE)),
        teammate=ana, capture=django_capture_on_commit_callbacks,
    )
    conversation = session.conversation
    assert conversation.external_thread_id == DM_SPACE
    assert (conversation.contact.external_id, conversation.contact.display_name) == (IZUMI, "Izumi")
    # A DM has no threads to keep: nothing asked Chat to reply in one.
    chat_calls = [r for r in google.requests_to("/v1/") if r.method == "POST"]
    assert chat_calls and all("thread" not in r.json() for r in chat_calls)
    assert all(r.headers["authorization"].startswith("Bearer ya29.fake-") for r in chat_calls)
    assert len(google.requests_to("/token")) == 1  # the app's access token is reused until it expires


def test_a_thread_in_a_space_is_a_conversation_and_replies_stay_in_it(
        client, connection, chat, google, django_capture_on_commit_callbacks):
    event = fixture("message_space_mention.json")
    with django_capture_on_commit_callbacks(execute=True):
        response = post(client, connection, event, chat.token(PROJECT_NUMBER))
    assert response.status_code == 200 and response.json() == {}

    conversation = Conversation.objects.get(connection=connection)
    assert conversation.external_thread_id == ROOM_THREAD
    assert user_messages() == ["Where is my order 1234?"]  # argumentText: without the @mention
    assert conversation.contact.external_id == "users/98765432109876543210"
    assert [m["thread"] for m in google.messages] == [ROOM_THREAD]
    ai_reply = Message.objects.get(conversation=conversation, author_kind=AuthorKind.AI)
    assert google.texts(thread=ROOM_THREAD) == [ai_reply.text]
    assert ai_reply.delivery_status == "sent"
    request = google.requests_to(f"/v1/{ROOM}/messages")[0]
    assert "messageReplyOption=REPLY_MESSAGE_FALLBACK_TO_NEW_THREAD" in request.path
    assert request.json()["thread"] == {"name": ROOM_THREAD}

    # The same person in another thread of the space: another conversation, answered there.
    other = fixture("message_space_mention.json")
    other["message"]["name"] = f"{ROOM}/messages/ZZZ.ZZZ"
    other["message"]["thread"]["name"] = f"{ROOM}/threads/ZZZ"
    with django_capture_on_commit_callbacks(execute=True):
        post(client, connection, other, chat.token(PROJECT_NUMBER))
    assert Conversation.objects.filter(connection=connection).count() == 2
    assert [m["thread"] for m in google.messages] == [ROOM_THREAD, f"{ROOM}/threads/ZZZ"]


# --- Verification --------------------------------------------------------------------------------


def _unsigned(header: dict, payload: dict, signature: bytes = b"") -> str:
    def encode(part):
        return base64.urlsafe_b64encode(part).rstrip(b"=").decode()
    return ".".join([encode(json.dumps(header).encode()), encode(json.dumps(payload).encode()), encode(signature)])


def _forged_token(chat: ChatSigner, case: str) -> str | None:
    now = int(time.time())
    claims = {"iss": "chat@system.gserviceaccount.com", "aud": PROJECT_NUMBER, "iat": now, "exp": now + 3600}
    return {
        "no token": lambda: None,
        "empty bearer": lambda: "",
        "garbage": lambda: "not-a-jwt",
        "signed by another key under Chat's key id":
            lambda: ChatSigner(key=other_key(), key_id=chat.key_id).token(PROJECT_NUMBER),
        "unknown key id": lambda: ChatSigner(key=other_key(), key_id="not-googles").token(PROJECT_NUMBER),
        "another issuer": lambda: chat.token(PROJECT_NUMBER, iss="attacker@evil.iam.gserviceaccount.com"),
        "another project": lambda: chat.token("999999999999"),
        "expired": lambda: chat.token(PROJECT_NUMBER, issued_at=now - 7200, lifetime=3600),
        "issued in the future": lambda: chat.token(PROJECT_NUMBER, issued_at=now + 600),
        "alg none": lambda: _unsigned({"alg": "none", "typ": "JWT", "kid": chat.key_id}, claims),
        "HS256 with the certificate as secret":
            lambda: _unsigned({"alg": "HS256", "typ": "JWT", "kid": chat.key_id}, claims, b"x" * 32),
        "claims tampered after signing": lambda: _tamper(chat.token("999999999999")),
    }[case]()


def _tamper(token: str) -> str:
    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["aud"] = PROJECT_NUMBER
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    return ".".join([header, forged, signature])


@pytest.mark.parametrize("case", [
    "no token", "empty bearer", "garbage", "signed by another key under Chat's key id", "unknown key id",
    "another issuer", "another project", "expired", "issued in the future", "alg none",
    "HS256 with the certificate as secret", "claims tampered after signing",
])
def test_a_request_without_chats_valid_token_is_refused_and_stores_nothing(client, connection, chat, case):
    token = _forged_token(chat, case)
    response = post(client, connection, dm_event("Hello there"), token)
    assert response.status_code == 401, case
    assert nothing_stored()


def _nested_too_deep() -> bytes:
    return b"[" * 100_000 + b"]" * 100_000


@pytest.mark.parametrize("token", [
    pytest.param(lambda chat: _unsigned_raw(_nested_too_deep(), b"{}"), id="header nested too deep"),
    pytest.param(lambda chat: _unsigned_raw(json.dumps({"alg": "RS256", "typ": "JWT", "kid": chat.key_id}).encode(),
                                            _nested_too_deep(), b"x" * 256), id="claims nested too deep"),
])
def test_a_token_nested_too_deep_to_parse_is_a_401_not_a_server_error(client, connection, chat, token):
    response = post(client, connection, dm_event("Hello there"), token(chat))
    assert response.status_code == 401
    assert nothing_stored()


def _unsigned_raw(header: bytes, payload: bytes, signature: bytes = b"") -> str:
    def encode(part):
        return base64.urlsafe_b64encode(part).rstrip(b"=").decode()
    return ".".join([encode(header), encode(payload), encode(signature)])


def test_a_body_over_the_upload_limit_is_a_413_not_a_server_error(client, connection, chat, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    event = dm_event("x" * 2000)
    assert post(client, connection, event, chat.token(PROJECT_NUMBER)).status_code == 413
    assert post(client, connection, event, None).status_code == 401
    assert nothing_stored()


def test_a_connection_without_an_audience_accepts_nothing(client, connection, chat):
    connection.config = {}
    connection.save()
    assert post(client, connection, dm_event("Hello there"), chat.token(PROJECT_NUMBER)).status_code == 401
    assert nothing_stored()


def test_googles_certificates_are_fetched_once_and_a_rotated_key_is_picked_up(client, connection, chat, google):
    for n in range(3):
        assert post(client, connection, dm_event(f"message {n}"), chat.token(PROJECT_NUMBER)).status_code == 200
    assert len(google.requests_to("/certs/chat")) == 1

    # Google rotates: a new key id the cached certificates do not have yet.
    rotated = google.trust(ChatSigner(key=other_key(), key_id="chat-key-2"))
    assert post(client, connection, dm_event("after rotation"), rotated.token(PROJECT_NUMBER)).status_code == 200
    assert len(google.requests_to("/certs/chat")) == 2
    # Made-up key ids cannot make us hammer Google: at most one forced fetch a minute.
    for _ in range(3):
        forged = ChatSigner(key=other_key(), key_id=secrets.token_hex(4)).token(PROJECT_NUMBER)
        assert post(client, connection, dm_event("forged"), forged).status_code == 401
    assert len(google.requests_to("/certs/chat")) == 2
    assert user_messages() == ["message 0", "message 1", "message 2", "after rotation"]


def test_when_googles_certificates_cannot_be_fetched_nothing_is_stored_and_chat_may_retry(
        client, connection, chat, settings, google):
    settings.GOOGLE_CHAT_CERTS_URL = f"{google.url}/certs/missing"
    response = post(client, connection, dm_event("Hello there"), chat.token(PROJECT_NUMBER))
    assert response.status_code == 503
    assert nothing_stored()


def test_with_the_endpoint_url_as_audience_googles_id_token_for_chat_is_required(client, connection, google):
    url = f"https://handoff.example/webhooks/google-chat/{connection.key}/"
    connection.config = {"audience": url}
    connection.save()
    google_oidc = google.trust(ChatSigner(issuer="https://accounts.google.com", key=other_key(), key_id="oidc-1"),
                               oidc=True)
    chat_email = {"email": "chat@system.gserviceaccount.com", "email_verified": True}

    assert post(client, connection, dm_event("by url"), google_oidc.token(url, **chat_email)).status_code == 200
    assert user_messages() == ["by url"]
    someone = {"email": "someone@example.com", "email_verified": True}
    assert post(client, connection, dm_event("someone"), google_oidc.token(url, **someone)).status_code == 401
    assert post(client, connection, dm_event("other url"),
                google_oidc.token("https://elsewhere.example/", **chat_email)).status_code == 401
    assert user_messages() == ["by url"]

    # A Chat app built as a Workspace add-on: its own per-project service account signs.
    add_on = {"email": "service-123456789012@gcp-sa-gsuiteaddons.iam.gserviceaccount.com", "email_verified": True}
    event = fixture("addon_message.json")
    assert post(client, connection, event, google_oidc.token(url, **add_on)).status_code == 401
    connection.config = {"audience": url, "addon_service_account": add_on["email"]}
    connection.save()
    assert post(client, connection, event, google_oidc.token(url, **add_on)).status_code == 200
    assert user_messages() == ["by url", "Can I change my delivery address?"]


# --- Events ----------------------------------------------------------------------------------------


def test_a_redelivered_event_is_stored_once_and_answered_once(client, connection, chat, google,
                                                              django_capture_on_commit_callbacks):
    event = dm_event("Hello there", message_id="SAME")
    for _ in range(3):
        with django_capture_on_commit_callbacks(execute=True):
            assert post(client, connection, event, chat.token(PROJECT_NUMBER)).status_code == 200
    assert user_messages() == ["Hello there"]
    assert len(google.texts(space=DM_SPACE)) == 1


@pytest.mark.parametrize("body", [
    pytest.param("{not json", id="not json"),
    pytest.param("[]", id="not an object"),
    pytest.param('{"type": ' + "[" * 100_000 + "]" * 100_000 + "}", id="nested too deep to parse"),
    pytest.param(json.dumps({"message": {"text": "no type"}}), id="no type"),
    pytest.param(json.dumps({"type": "MESSAGE"}), id="message event without a message"),
    pytest.param(json.dumps({"type": "MESSAGE", "message": {"name": f"{DM_SPACE}/messages/X.X", "text": "x"}}),
                 id="no sender"),
    pytest.param(json.dumps({"type": "MESSAGE", "message": {"name": "../../etc", "sender": {"name": IZUMI},
                                                            "text": "x"}}), id="not a message name"),
    pytest.param(json.dumps({"type": "MESSAGE", "space": {"name": ROOM}, "message": {
        "name": f"{DM_SPACE}/messages/X.X", "sender": {"name": IZUMI}, "text": "x"}}), id="message from another space"),
])
def test_a_malformed_event_with_a_valid_token_is_a_400_and_stores_nothing(client, connection, chat, body):
    response = post(client, connection, body, chat.token(PROJECT_NUMBER))
    assert response.status_code == 400
    assert nothing_stored()


@pytest.mark.parametrize("name", ["message_dm.json", "message_attachment.json", "addon_message.json",
                                  "added_to_space.json"])
def test_no_oddly_shaped_event_is_ever_a_server_error(client, connection, chat, name, monkeypatch):
    check_instead_of_storing(monkeypatch)
    token = chat.token(PROJECT_NUMBER)
    statuses = {where: post(client, connection, event, token).status_code
                for where, event in odd_variants(fixture(name))}
    assert {where: status for where, status in statuses.items() if status not in (200, 400)} == {}


@pytest.mark.parametrize("name, stored", [
    ("message_attachment.json", "[Image: broken-parcel.jpg]"),
    ("message_drive_file.json", "[Google Drive file: Invoice 1234] here is the invoice"),
])
def test_attachments_are_stored_as_readable_placeholders(client, connection, chat, name, stored):
    response = post(client, connection, fixture(name), chat.token(PROJECT_NUMBER))
    assert response.status_code == 200
    assert user_messages() == [stored]
    assert Conversation.objects.get().external_thread_id == DM_SPACE


def test_the_workspace_add_on_envelope_is_read_too(client, connection, chat):
    response = post(client, connection, fixture("addon_message.json"), chat.token(PROJECT_NUMBER))
    assert response.status_code == 200
    assert user_messages() == ["Can I change my delivery address?"]
    message = Message.objects.get()
    assert message.platform_message_id == "spaces/AAAAdmspace/messages/IIIIIIIIIII.IIIIIIIIIII"


def test_being_added_to_a_space_is_answered_with_a_greeting_and_stores_nothing(client, connection, chat, agent):
    response = post(client, connection, fixture("added_to_space.json"), chat.token(PROJECT_NUMBER))
    assert response.status_code == 200
    assert agent.name in response.json()["text"]
    assert nothing_stored()


@pytest.mark.parametrize("name", ["message_from_bot.json", "removed_from_space.json", "card_clicked.json"])
def test_events_that_are_not_a_users_message_are_acknowledged_and_ignored(client, connection, chat, name):
    response = post(client, connection, fixture(name), chat.token(PROJECT_NUMBER))
    assert response.status_code == 200 and response.json() == {}
    assert nothing_stored()


# --- Outbound ----------------------------------------------------------------------------------------


@pytest.fixture
def conversation(client, connection, chat):
    assert post(client, connection, dm_event("Hello there"), chat.token(PROJECT_NUMBER)).status_code == 200
    return Conversation.objects.get(connection=connection)


def reply(conversation, text: str) -> Message:
    return post_message_to_contact(conversation=conversation, author_kind=AuthorKind.TEAMMATE, text=text)


def test_a_rate_limit_waits_for_retry_after_and_a_later_attempt_delivers(conversation, google):
    message = reply(conversation, "Your parcel ships tomorrow.")
    google.fail(429, retry_after="120")
    before = timezone.now()
    assert deliver_message(message_id=message.pk) == "pending"
    message.refresh_from_db()
    assert message.next_attempt_at >= before + timedelta(seconds=119)
    assert "rate limit" in message.delivery_error
    assert google.texts() == []

    make_due(message)
    assert deliver_message(message_id=message.pk) == "sent"
    assert google.texts(space=DM_SPACE) == ["Your parcel ships tomorrow."]


def test_an_unavailable_chat_api_is_retried(conversation, google):
    message = reply(conversation, "Checking that for you.")
    google.fail(503)
    assert deliver_message(message_id=message.pk) == "pending"
    make_due(message)
    assert deliver_message(message_id=message.pk) == "sent"
    assert google.texts() == ["Checking that for you."]


def test_a_permission_error_fails_the_message_with_googles_reason(conversation, google):
    message = reply(conversation, "Hello?")
    google.fail(403)
    assert deliver_message(message_id=message.pk) == "failed"
    message.refresh_from_db()
    assert message.delivery_status == "failed"
    assert message.delivery_error == "Google Chat: The caller does not have permission"


def test_a_space_that_is_gone_fails_the_message(conversation, google):
    google.gone_spaces.add(DM_SPACE)
    message = reply(conversation, "Hello?")
    assert deliver_message(message_id=message.pk) == "failed"
    message.refresh_from_db()
    assert message.delivery_error == "Google Chat: Requested entity was not found."


def test_a_revoked_access_token_is_refreshed_once(conversation, google):
    first = reply(conversation, "One")
    assert deliver_message(message_id=first.pk) == "sent"
    google.revoke_tokens()
    second = reply(conversation, "Two")
    assert deliver_message(message_id=second.pk) == "sent"
    assert google.texts() == ["One", "Two"]
    assert len(google.requests_to("/token")) == 2

    google.fail(401, times=2)  # still refused with a fresh token: final
    third = reply(conversation, "Three")
    assert deliver_message(message_id=third.pk) == "failed"
    third.refresh_from_db()
    assert third.delivery_error.startswith("Google Chat: Request had invalid authentication credentials")


def test_a_service_account_google_does_not_know_fails_without_leaking_the_key(conversation, connection, google):
    stranger = service_account_info(key=other_key(), client_email="stranger@elsewhere.iam.gserviceaccount.com")
    connection.secrets = {"service_account_json": json.dumps(stranger)}
    connection.save()
    message = reply(conversation, "Hello?")
    assert deliver_message(message_id=message.pk) == "failed"
    message.refresh_from_db()
    assert message.delivery_error.startswith("Google Chat: the service account was refused: invalid_grant")
    assert "PRIVATE KEY" not in message.delivery_error and google.texts() == []


def test_a_broken_service_account_key_fails_clearly(conversation, connection):
    connection.secrets = {"service_account_json": '{"type": "service_account", "private_key": "-----BEGIN PRIV'}
    connection.save()
    message = reply(conversation, "Hello?")
    assert deliver_message(message_id=message.pk) == "failed"
    message.refresh_from_db()
    assert message.delivery_error == "Google Chat: the service account key is not valid JSON"


def _long_text() -> str:
    paragraph = "Order 1234 — état: expédié 📦. " * 90  # multi-byte characters: the limit is in bytes
    return "\n\n".join(f"{n}. {paragraph}" for n in range(1, 31))


def test_a_long_message_is_split_at_chats_byte_limit_in_order_with_nothing_lost(conversation, google):
    text = _long_text()
    assert len(text.encode()) > 2 * 31_000
    message = reply(conversation, text)
    assert deliver_message(message_id=message.pk) == "sent"
    parts = google.texts(space=DM_SPACE)
    assert len(parts) >= 3
    assert all(len(part.encode()) <= 31_000 for part in parts)
    assert " ".join(parts).split() == text.split()
    message.refresh_from_db()
    assert message.platform_message_id.count(",") == len(parts) - 1


def test_a_retry_after_a_partial_failure_sends_only_the_rest(conversation, google):
    text = _long_text()
    message = reply(conversation, text)
    google.succeed(1).fail(503)
    assert deliver_message(message_id=message.pk) == "pending"
    message.refresh_from_db()
    assert message.delivered_parts == 1 and len(google.texts()) == 1

    make_due(message)
    assert deliver_message(message_id=message.pk) == "sent"
    parts = google.texts(space=DM_SPACE)
    assert len(parts) == len(set(parts)) >= 3  # the first part once
    assert " ".join(parts).split() == text.split()


def test_sending_a_part_again_does_not_post_it_twice(conversation, google):
    """Each part carries a request id: if Chat created it but the answer was lost, the retry
    gets the same message back instead of a duplicate."""
    message = reply(conversation, "Only once, please.")
    assert deliver_message(message_id=message.pk) == "sent"
    Message.objects.filter(pk=message.pk).update(delivery_status="pending", delivered_parts=0,
                                                 next_attempt_at=timezone.now())
    assert deliver_message(message_id=message.pk) == "sent"
    assert google.texts() == ["Only once, please."]
    assert len(google.requests_to(f"/v1/{DM_SPACE}/messages")) == 2


# --- Demo ---------------------------------------------------------------------------------------------


def test_demo_credentials_let_anyone_play_google_chat(client, agent, google, django_capture_on_commit_callbacks):
    adapter = GoogleChatAdapter()
    demo_secrets, demo_config = adapter.demo_credentials()
    connection = ChannelConnectionFactory(agent=agent, platform=Platform.GOOGLE_CHAT,
                                          secrets=demo_secrets, config=demo_config)
    side = adapter.platform_side(connection)
    assert side["issuer"] == "chat@system.gserviceaccount.com" and side["audience"] == demo_config["audience"]
    google.chat_certificates.update(side["certs_json"])
    google.register_service_account(json.loads(demo_secrets["service_account_json"]))

    signer = google_crypt.RSASigner.from_string(side["signing_key_pem"], key_id=side["key_id"])
    now = int(time.time())
    token = google_jwt.encode(signer, {"iss": side["issuer"], "aud": side["audience"], "iat": now,
                                            "exp": now + 300}).decode()
    with django_capture_on_commit_callbacks(execute=True):
        assert post(client, connection, dm_event("Hello there"), token).status_code == 200
    assert google.texts(space=DM_SPACE) == [f"Hi! I'm {agent.name}. How can I help you today?"]
