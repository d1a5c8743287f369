"""Slack: signed Events API requests in, chat.postMessage out, against a fake Slack Web API.

Inbound payloads are Slack's documented examples (fixtures/slack/*.json), signed the way
Slack documents: `v0=` + HMAC-SHA256(signing secret, "v0:{timestamp}:{raw body}").
"""

import copy
import hashlib
import hmac
import itertools
import json
import time
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone

from channels_gateway.adapters import slack
from channels_gateway.adapters.registry import adapter_for
from channels_gateway.models import Platform
from channels_gateway.services import deliver_message
from channels_gateway.tests.factories import ChannelConnectionFactory
from channels_gateway.tests.round_trip import Channel, run_round_trip
from conversations.models import AuthorKind, Contact, Conversation, Message
from conversations.services.messages import post_message_to_contact
from conversations.tests.factories import AIAgentFactory
from tests.fakes.odd_payloads import check_instead_of_storing, odd_variants
from tests.fakes.slack_api import FakeSlack

pytestmark = pytest.mark.django_db

FIXTURES = Path(__file__).parent / "fixtures" / "slack"
DM = "D024BE91L"  # the DM channel in Slack's message.im example
USER = "U2147483697"
_ts = itertools.count(1)


def fixture(name: str) -> dict:
    return json.loads((FIXTURES / f"{name}.json").read_text())


def sign(secret: str, timestamp: str, body: bytes) -> str:
    base = b"v0:" + timestamp.encode() + b":" + body
    return "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()


def post(client, connection, payload, *, secret=None, timestamp=None, headers=None):
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    timestamp = str(int(time.time())) if timestamp is None else str(timestamp)
    signed = {
        "X-Slack-Request-Timestamp": timestamp,
        "X-Slack-Signature": sign(secret or connection.secrets["signing_secret"], timestamp, body),
        **(headers or {}),
    }
    return client.post(f"/webhooks/slack/{connection.key}/", data=body, content_type="application/json",
                       headers={name: value for name, value in signed.items() if value is not None})


def dm(text: str, **event) -> dict:
    """A message.im event as Slack sends it, with a fresh ts."""
    payload = fixture("message_im")
    ts = f"{int(time.time())}.{next(_ts):06d}"
    payload["event"].update(text=text, ts=ts, event_ts=ts, client_msg_id=f"c0ffee00-0000-4000-8000-{next(_ts):012d}")
    payload["event"].update(event)
    return payload


@pytest.fixture
def connection(organization):
    secrets, config = adapter_for(Platform.SLACK).demo_credentials()
    return ChannelConnectionFactory(agent=AIAgentFactory(organization=organization), platform=Platform.SLACK,
                                    name="Slack", secrets=secrets, config=config)


@pytest.fixture(scope="module")
def slack_server():
    with FakeSlack() as server:
        yield server


@pytest.fixture
def slack_api(slack_server, connection, settings):
    settings.SLACK_API_BASE_URL = slack_server.api_url
    return slack_server.reset(token=connection.secrets["bot_token"])


def user_texts() -> list[str]:
    return list(Message.objects.filter(author_kind=AuthorKind.USER).order_by("pk").values_list("text", flat=True))


# --- the round trip ------------------------------------------------------------------------------

def test_a_user_dms_the_bot_gets_the_ai_then_a_teammate_in_the_same_dm(
    client, connection, slack_api, ana, django_capture_on_commit_callbacks
):
    channel = Channel(
        connection=connection,
        say=lambda text: post(client, connection, dm(text)),
        delivered=lambda: slack_api.texts(DM),
    )
    session = run_round_trip(channel, teammate=ana, capture=django_capture_on_commit_callbacks)
    assert session.conversation.external_thread_id == DM
    assert session.conversation.contact.external_id == USER
    # Every reply went to the DM itself, as the bot, with the bot token.
    assert {(p.channel, p.thread_ts) for p in slack_api.posted} == {(DM, None)}
    assert {r.headers["authorization"] for r in slack_api.requests} == {f"Bearer {connection.secrets['bot_token']}"}


# --- verification --------------------------------------------------------------------------------

def test_the_url_verification_handshake_answers_the_challenge(client, connection):
    response = post(client, connection, fixture("url_verification"))
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    assert response.content == b"3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"


def test_an_unsigned_handshake_gets_no_challenge(client, connection):
    response = post(client, connection, fixture("url_verification"), secret="not-the-signing-secret")
    assert response.status_code == 401
    assert b"3eZbrw1a" not in response.content


@pytest.mark.parametrize("tamper", ["wrong secret", "body changed", "no signature", "no timestamp",
                                    "timestamp changed", "timestamp not a number", "v1 scheme"])
def test_a_wrongly_signed_message_is_refused_and_changes_nothing(client, connection, slack_api, tamper):
    payload = dm("Hello there")
    body = json.dumps(payload).encode()
    now = str(int(time.time()))
    headers = {"X-Slack-Request-Timestamp": now,
               "X-Slack-Signature": sign(connection.secrets["signing_secret"], now, body)}
    if tamper == "wrong secret":
        headers["X-Slack-Signature"] = sign("0" * 32, now, body)
    elif tamper == "body changed":
        body = body.replace(b"Hello there", b"Hello thera")
    elif tamper == "no signature":
        del headers["X-Slack-Signature"]
    elif tamper == "no timestamp":
        del headers["X-Slack-Request-Timestamp"]
    elif tamper == "timestamp changed":
        headers["X-Slack-Request-Timestamp"] = str(int(now) - 1)
    elif tamper == "timestamp not a number":
        headers["X-Slack-Request-Timestamp"] = "soon"
    elif tamper == "v1 scheme":
        headers["X-Slack-Signature"] = headers["X-Slack-Signature"].replace("v0=", "v1=")
    response = client.post(f"/webhooks/slack/{connection.key}/", data=body, content_type="application/json",
                           headers=headers)
    assert response.status_code == 401
    assert not Message.objects.exists() and not Conversation.objects.exists()
    assert slack_api.requests == []


def test_a_replayed_request_outside_slacks_five_minute_window_is_refused(client, connection, slack_api):
    payload = dm("Hello there")
    old = int(time.time()) - 5 * 60 - 30
    response = post(client, connection, payload, timestamp=old)  # correctly signed, but stale
    assert response.status_code == 401
    assert response.json() == {"error": "Stale Slack request timestamp"}
    assert not Message.objects.exists()

    recent = int(time.time()) - 4 * 60  # within the window: still Slack
    assert post(client, connection, payload, timestamp=recent).status_code == 200
    assert user_texts() == ["Hello there"]


def test_a_connection_without_a_signing_secret_takes_nothing(client, connection):
    signing_secret = connection.secrets["signing_secret"]
    connection.secrets = {"bot_token": connection.secrets["bot_token"]}
    connection.save()
    response = post(client, connection, dm("Hello there"), secret=signing_secret)
    assert response.status_code == 401
    assert not Message.objects.exists()


# --- inbound messages ----------------------------------------------------------------------------

def test_slacks_retries_of_one_message_are_stored_once_and_answered_once(
    client, connection, slack_api, django_capture_on_commit_callbacks
):
    payload = dm("Hello there")
    with django_capture_on_commit_callbacks(execute=True):
        assert post(client, connection, payload).status_code == 200
    for retry in ("1", "2", "3"):  # Slack resends when it thinks we were too slow
        with django_capture_on_commit_callbacks(execute=True):
            response = post(client, connection, payload,
                            headers={"X-Slack-Retry-Num": retry, "X-Slack-Retry-Reason": "http_timeout"})
        assert response.status_code == 200
    assert user_texts() == ["Hello there"]
    assert len(slack_api.texts(DM)) == 1  # answered once


def test_the_documented_dm_example_is_stored_for_its_sender(client, connection):
    assert post(client, connection, fixture("message_im")).status_code == 200
    message = Message.objects.get()
    assert message.text == "Hello hello can you hear me?"
    assert message.platform_message_id == "1355517523.000005"
    assert message.conversation.external_thread_id == DM
    assert message.conversation.contact.external_id == USER


def test_a_shared_file_is_stored_as_a_readable_placeholder(client, connection):
    assert post(client, connection, fixture("message_file_share")).status_code == 200
    assert user_texts() == ["[File] invoice-1234.pdf\nHere is the invoice"]


def test_a_file_without_a_caption_is_still_a_message(client, connection):
    payload = fixture("message_file_share")
    payload["event"]["text"] = ""
    assert post(client, connection, payload).status_code == 200
    assert user_texts() == ["[File] invoice-1234.pdf"]


@pytest.mark.parametrize("name", [
    "message_bot_message", "message_im_from_own_bot", "message_changed", "message_deleted",
    "message_channel_join", "message_channels", "app_rate_limited",
])
def test_events_that_are_not_a_users_message_are_acknowledged_and_ignored(client, connection, slack_api, name):
    response = post(client, connection, fixture(name))
    assert response.status_code == 200
    assert not Message.objects.exists() and not Conversation.objects.exists()
    assert slack_api.requests == []


@pytest.mark.parametrize("body", [b"{not json", b"[]", b'"event_callback"',
                                  b'{"type": "event_callback", "event": "message"}',
                                  b'{"type": "url_verification"}'])
def test_a_malformed_body_is_a_400_and_stores_nothing(client, connection, body):
    response = post(client, connection, body)
    assert response.status_code == 400
    assert not Message.objects.exists()


def test_a_body_over_the_upload_limit_is_a_413_not_a_server_error(client, connection, settings):
    # The signature covers the body, so a signed body too large to read is a 413 (a 503
    # would make Slack send it again); a request without a signature is refused before.
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    payload = dm("x" * 2000)
    assert post(client, connection, payload).status_code == 413
    assert post(client, connection, payload, headers={"X-Slack-Signature": None}).status_code == 401
    assert not Message.objects.exists()


def test_json_nested_too_deep_to_parse_is_a_400(client, connection):
    assert post(client, connection, b'{"type": ' + b"[" * 100_000 + b"]" * 100_000 + b"}").status_code == 400


# Without the bot's own id (the authorizations cannot be read) its mention reads as any other.
UNKNOWN_BOT = "Thanks @U0LAN0Z89, my order is 1234 & it is late"
KNOWN_BOT = "Thanks, my order is 1234 & it is late"


@pytest.mark.parametrize("change, stored", [
    pytest.param(lambda payload: payload.update(authorizations=5), UNKNOWN_BOT, id="authorizations a number"),
    pytest.param(lambda payload: payload.update(authorizations={"user_id": "U0LAN0Z89"}, authed_users=7),
                 UNKNOWN_BOT, id="authorizations an object, authed_users a number"),
    pytest.param(lambda payload: payload["authorizations"][0].update(user_id=["U0LAN0Z89"]), UNKNOWN_BOT,
                 id="user_id a list"),
    pytest.param(lambda payload: payload["event"].update(files=5), KNOWN_BOT, id="files a number"),
    pytest.param(lambda payload: payload["event"].update(files=[{"name": 7, "title": ["x"]}]),
                 "[File] file\n" + KNOWN_BOT, id="a file's name a number"),
    pytest.param(lambda payload: payload["event"].update(thread_ts=7), KNOWN_BOT, id="thread_ts a number"),
])
def test_an_event_with_fields_of_unexpected_types_is_stored_not_a_server_error(client, connection, change, stored):
    payload = fixture("app_mention_in_thread")
    change(payload)
    assert post(client, connection, payload).status_code == 200
    assert user_texts() == [stored]


@pytest.mark.parametrize("name", ["message_im", "message_file_share", "app_mention_in_thread", "url_verification"])
def test_no_oddly_shaped_event_is_ever_a_server_error(client, connection, name, monkeypatch):
    check_instead_of_storing(monkeypatch)
    statuses = {where: post(client, connection, payload).status_code
                for where, payload in odd_variants(fixture(name))}
    assert {where: status for where, status in statuses.items() if status not in (200, 400)} == {}


def test_slack_markup_becomes_what_the_user_saw(client, connection):
    payload = dm("Is <https://shop.example/orders/7|my order> late? &lt;3 &amp; thanks <@U0OTHER1|maria> <#C01|help>")
    assert post(client, connection, payload).status_code == 200
    assert user_texts() == ["Is my order (https://shop.example/orders/7) late? <3 & thanks @maria #help"]


# --- channels and threads ------------------------------------------------------------------------

def test_a_mention_in_a_channel_is_answered_in_its_thread_and_the_thread_stays_one_conversation(
    client, connection, slack_api, ana, django_capture_on_commit_callbacks
):
    mention = fixture("app_mention")
    now = str(int(time.time()))
    with django_capture_on_commit_callbacks(execute=True):
        assert post(client, connection, mention, timestamp=now).status_code == 200
    conversation = Conversation.objects.get()
    assert conversation.external_thread_id == "C0LAN2Q65:1515449522.000016"
    assert user_texts() == ["is it everything a river should be?"]  # the bot's mention stripped
    # The AI answered in the thread under the user's message, not in the channel.
    assert slack_api.texts("C0LAN2Q65") == []
    assert len(slack_api.texts("C0LAN2Q65", thread_ts="1515449522.000016")) == 1

    with django_capture_on_commit_callbacks(execute=True):  # a reply in the thread, mentioning the bot
        assert post(client, connection, fixture("app_mention_in_thread")).status_code == 200
    assert Conversation.objects.get() == conversation
    assert user_texts()[-1] == "Thanks, my order is 1234 & it is late"

    with django_capture_on_commit_callbacks(execute=True):  # a teammate's reply lands in the thread too
        post_message_to_contact(conversation=conversation, author_kind=AuthorKind.TEAMMATE, author_user=ana,
                                text="Checking order 1234 <now> & back soon")
    assert slack_api.texts("C0LAN2Q65", thread_ts="1515449522.000016")[-1] == "Checking order 1234 <now> & back soon"
    # Slack reads < > & as markup: sent escaped, shown as typed.
    assert slack_api.posted[-1].text == "Checking order 1234 &lt;now&gt; &amp; back soon"
    assert {p.thread_ts for p in slack_api.posted} == {"1515449522.000016"}


def test_a_new_mention_in_the_channel_starts_its_own_conversation(client, connection):
    first = fixture("app_mention")
    second = copy.deepcopy(first)
    second["event"].update(ts="1515449999.000100", text="<@U0LAN0Z89> another question")
    post(client, connection, first)
    post(client, connection, second)
    assert sorted(Conversation.objects.values_list("external_thread_id", flat=True)) == [
        "C0LAN2Q65:1515449522.000016", "C0LAN2Q65:1515449999.000100"]


# --- outbound ------------------------------------------------------------------------------------

@pytest.fixture
def conversation(connection):
    return Conversation.objects.create(
        organization=connection.organization, connection=connection, agent=connection.agent,
        external_thread_id=DM,
        contact=Contact.objects.create(organization=connection.organization, connection=connection, external_id=USER),
    )


def teammate_says(conversation, ana, text: str) -> Message:
    """The inbox's one outbound path; the test runs the delivery attempts itself."""
    return post_message_to_contact(conversation=conversation, author_kind=AuthorKind.TEAMMATE, author_user=ana,
                                   text=text)


def later(message: Message) -> None:
    """Time passes until the next attempt is due."""
    Message.objects.filter(pk=message.pk).update(next_attempt_at=timezone.now())


def test_a_rate_limit_waits_for_slacks_retry_after_then_delivers(conversation, ana, slack_api):
    slack_api.rate_limit(retry_after=120)
    message = teammate_says(conversation, ana, "Your refund is on its way.")
    before = timezone.now()
    assert deliver_message(message_id=message.pk) == "pending"
    message.refresh_from_db()
    assert message.next_attempt_at >= before + timedelta(seconds=120)
    assert "rate limit" in message.delivery_error
    assert slack_api.texts(DM) == []

    assert deliver_message(message_id=message.pk) == "skipped"  # not due yet
    later(message)
    assert deliver_message(message_id=message.pk) == "sent"
    message.refresh_from_db()
    assert slack_api.texts(DM) == ["Your refund is on its way."]
    assert message.platform_message_id == slack_api.posted[-1].ts and message.delivery_error == ""


def test_a_slack_outage_is_retried(conversation, ana, slack_api):
    slack_api.server_error(503)
    message = teammate_says(conversation, ana, "Still here!")
    assert deliver_message(message_id=message.pk) == "pending"
    message.refresh_from_db()
    assert message.delivery_error == "Slack server error (503)"
    later(message)
    assert deliver_message(message_id=message.pk) == "sent"
    assert slack_api.texts(DM) == ["Still here!"]


def test_slack_not_answering_in_time_is_retried(conversation, ana, slack_api, monkeypatch):
    monkeypatch.setattr(slack, "SEND_TIMEOUT", 0.3)
    slack_api.slow(1.0)
    message = teammate_says(conversation, ana, "Are you there?")
    assert deliver_message(message_id=message.pk) == "pending"
    message.refresh_from_db()
    assert message.delivery_error == "Slack did not answer in time"


@pytest.mark.parametrize("error", ["channel_not_found", "not_in_channel", "is_archived", "account_inactive",
                                   "msg_too_long", "token_revoked"])
def test_a_permanent_slack_error_fails_the_message_with_slacks_reason(conversation, ana, slack_api, error):
    slack_api.fail_with(error)
    message = teammate_says(conversation, ana, "Hello?")
    assert deliver_message(message_id=message.pk) == "failed"
    message.refresh_from_db()
    assert (message.delivery_status, message.delivery_error) == ("failed", f"Slack: {error}")
    assert len(slack_api.requests) == 1  # not retried


def test_a_revoked_bot_token_fails_without_leaking_the_token(conversation, ana, slack_api):
    connection = conversation.connection
    connection.secrets = {**connection.secrets, "bot_token": "xoxb-0000-1111-revokedrevokedrevoked"}
    connection.save()
    message = teammate_says(conversation, ana, "Hello?")
    assert deliver_message(message_id=message.pk) == "failed"
    message.refresh_from_db()
    assert message.delivery_error == "Slack: invalid_auth"
    assert "xoxb" not in message.delivery_error


def long_reply() -> str:
    sentences = [f"Step {n}: " + " ".join(f"word{n}-{i}" for i in range(40)) + "." for n in range(1, 31)]
    return " ".join(sentences)  # about 10,800 characters, one paragraph


def test_a_long_reply_is_split_at_slacks_4000_characters_in_order_with_nothing_lost(conversation, ana, slack_api):
    text = long_reply()
    message = teammate_says(conversation, ana, text)
    assert deliver_message(message_id=message.pk) == "sent"
    parts = slack_api.texts(DM)
    assert len(parts) == 3 and all(len(part) <= 4000 for part in parts)
    assert " ".join(parts).split() == text.split()  # every word, in order
    assert all(part.endswith(".") for part in parts)  # cut between sentences
    assert parts[0].startswith("Step 1:") and parts[-1].endswith("word30-39.")
    message.refresh_from_db()
    assert message.platform_message_id == ",".join(p.ts for p in slack_api.posted)


def test_a_retry_after_a_partial_failure_sends_only_the_parts_not_yet_delivered(conversation, ana, slack_api):
    text = long_reply()
    slack_api.ok().server_error(502)  # the first part goes through, the second hits an outage
    message = teammate_says(conversation, ana, text)
    assert deliver_message(message_id=message.pk) == "pending"
    message.refresh_from_db()
    assert message.delivered_parts == 1 and len(slack_api.texts(DM)) == 1

    later(message)
    assert deliver_message(message_id=message.pk) == "sent"
    parts = slack_api.texts(DM)
    assert len(parts) == 3 and len(set(parts)) == 3  # no part twice
    assert " ".join(parts).split() == text.split()


# --- demo ----------------------------------------------------------------------------------------

def test_demo_credentials_are_fresh_and_let_anyone_play_slack(client, organization):
    adapter = adapter_for(Platform.SLACK)
    (first, config), (second, _) = adapter.demo_credentials(), adapter.demo_credentials()
    assert first["bot_token"].startswith("xoxb-") and len(first["signing_secret"]) == 32
    int(first["signing_secret"], 16)
    assert first != second and config == {}
    connection = ChannelConnectionFactory(agent=AIAgentFactory(organization=organization), platform=Platform.SLACK,
                                          secrets=first)
    side = adapter.platform_side(connection)
    assert side == {"signing_secret": first["signing_secret"]}
    assert post(client, connection, dm("Hello there"), secret=side["signing_secret"]).status_code == 200


@pytest.mark.parametrize("headers, seconds", [
    ({"Retry-After": "30"}, 30.0),
    ({"retry-after": ["5"]}, 5.0),
    ({"Retry-After": "inf"}, None),
    ({"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"}, 0.0),
    ({"Content-Type": "application/json"}, None),
    (None, None),
])
def test_slacks_retry_after_is_read_as_every_platforms_is(headers, seconds):
    assert slack._retry_after(headers) == seconds
