"""Messenger and Instagram through Meta's webhook and a fake Graph API on 127.0.0.1.

Inbound payloads are Meta's documented examples (fixtures/meta/*.json), signed with the app
secret exactly as Meta signs them; outbound goes through the real delivery service.
"""

import copy
import json
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone

from channels_gateway.adapters.meta_webhooks import sign
from channels_gateway.adapters.registry import adapter_for
from channels_gateway.models import Platform
from channels_gateway.tests.delivery import reply, try_again_now, user_last_wrote
from channels_gateway.tests.factories import ChannelConnectionFactory
from channels_gateway.tests.round_trip import Channel, run_round_trip
from conversations.models import AuthorKind, Conversation, Message
from tests.fakes.meta_graph_api import FakeGraphAPI, dumps, graph_error
from tests.fakes.odd_payloads import check_instead_of_storing, odd_variants

pytestmark = pytest.mark.django_db

FIXTURES = Path(__file__).parent / "fixtures" / "meta"
PAGE_ID, PSID = "682498302938465", "6783420917385032"
IG_ID, IGSID = "17841405822304914", "5701234567890123"
MESSENGER_TOKEN = "EAAMessengerPageToken0123456789abcdef"
INSTAGRAM_TOKEN = "EAAInstagramPageToken0123456789abcdef"
NO_SIGNATURE = ""


def fixture(name: str) -> dict:
    return json.loads((FIXTURES / name).read_text())


@pytest.fixture
def graph(settings):
    with FakeGraphAPI() as fake:
        settings.META_GRAPH_BASE_URL = fake.base_url
        yield fake


@pytest.fixture
def messenger(agent, graph):
    graph.add_page(MESSENGER_TOKEN, "messenger")
    return ChannelConnectionFactory(
        agent=agent, platform=Platform.MESSENGER, name="Shop on Messenger", config={"page_id": PAGE_ID},
        secrets={"app_secret": "messenger-app-secret", "verify_token": "verify-me", "page_access_token": MESSENGER_TOKEN},
    )


@pytest.fixture
def instagram(agent, graph):
    graph.add_page(INSTAGRAM_TOKEN, "instagram")
    return ChannelConnectionFactory(
        agent=agent, platform=Platform.INSTAGRAM, name="Shop on Instagram", config={"ig_user_id": IG_ID},
        secrets={"app_secret": "instagram-app-secret", "verify_token": "verify-ig", "page_access_token": INSTAGRAM_TOKEN},
    )


def post(client, connection, payload=None, *, body: bytes | None = None, signature: str | None = None,
         secret: str | None = None):
    raw = body if body is not None else dumps(payload)
    if signature is None:
        signature = sign(secret or connection.secrets["app_secret"], raw)
    headers = {"HTTP_X_HUB_SIGNATURE_256": signature} if signature else {}
    return client.post(f"/webhooks/meta/{connection.key}/", data=raw, content_type="application/json", **headers)


_mids = iter(range(1, 10_000))


def text_payload(connection, text: str, *, sender: str | None = None, mid: str | None = None) -> dict:
    """Meta's documented text message, from `sender`, with a fresh message id."""
    instagram = connection.platform == Platform.INSTAGRAM
    payload = copy.deepcopy(fixture("instagram_text.json" if instagram else "messenger_text.json"))
    event = payload["entry"][0]["messaging"][0]
    event["sender"]["id"] = sender or (IGSID if instagram else PSID)
    event["message"]["text"] = text
    event["message"]["mid"] = mid or f"m_test-{next(_mids)}"
    event["message"].pop("quick_reply", None)
    return payload


def user_messages(connection=None):
    messages = Message.objects.filter(author_kind=AuthorKind.USER)
    return messages.filter(conversation__connection=connection) if connection else messages


# --- the round trip ---------------------------------------------------------------------


@pytest.mark.parametrize("platform", ["messenger", "instagram"])
def test_the_round_trip(platform, request, client, graph, ana, django_capture_on_commit_callbacks):
    connection = request.getfixturevalue(platform)
    user = IGSID if platform == "instagram" else PSID

    run_round_trip(
        Channel(connection, say=lambda text: post(client, connection, text_payload(connection, text, sender=user)),
                delivered=lambda: graph.delivered(user)),
        teammate=ana, capture=django_capture_on_commit_callbacks,
    )
    # Every reply answered the user inside the 24-hour window, with the Page token as a header.
    assert {item["messaging_type"] for item in graph.sent} == {"RESPONSE"}
    assert all(request.headers["authorization"] == f"Bearer {connection.secrets['page_access_token']}"
               and "access_token" not in request.path for request in graph.calls())


# --- verification ----------------------------------------------------------------------


def test_the_subscribe_handshake_echoes_the_challenge_only_for_the_right_verify_token(client, messenger):
    url = f"/webhooks/meta/{messenger.key}/"
    good = client.get(url, {"hub.mode": "subscribe", "hub.verify_token": "verify-me", "hub.challenge": "1158201444"})
    assert good.status_code == 200
    assert good.content == b"1158201444" and good["Content-Type"].startswith("text/plain")

    wrong = client.get(url, {"hub.mode": "subscribe", "hub.verify_token": "guess", "hub.challenge": "1158201444"})
    not_subscribe = client.get(url, {"hub.mode": "unsubscribe", "hub.verify_token": "verify-me",
                                     "hub.challenge": "1"})
    assert wrong.status_code == 403 and b"1158201444" not in wrong.content
    assert not_subscribe.status_code == 403


@pytest.mark.parametrize("how, status", [
    ("missing", 401),
    ("wrong secret", 403),
    ("tampered body", 403),
    ("sha1 instead of sha256", 403),
])
def test_an_unsigned_or_wrongly_signed_notification_is_refused_and_stores_nothing(client, messenger, graph,
                                                                                  how, status):
    payload = fixture("messenger_text.json")
    raw = dumps(payload)
    if how == "missing":
        response = post(client, messenger, payload, signature=NO_SIGNATURE)
    elif how == "wrong secret":
        response = post(client, messenger, payload, secret="not-the-app-secret")
    elif how == "tampered body":
        response = post(client, messenger, body=raw.replace(b"hello, world!", b"send me a refund"),
                        signature=sign("messenger-app-secret", raw))
    else:
        response = post(client, messenger, payload, signature="sha1=" + sign("messenger-app-secret", raw)[7:])
    assert response.status_code == status
    assert not Message.objects.exists() and not Conversation.objects.exists()
    assert graph.calls() == []


def test_a_notification_signed_with_another_connections_secret_is_refused(client, messenger, instagram):
    payload = text_payload(messenger, "hi")
    assert post(client, messenger, payload, secret=instagram.secrets["app_secret"]).status_code == 403
    assert not Message.objects.exists()


@pytest.mark.parametrize("body", [b"not json at all", b"[1, 2, 3]", b'{"object": "page"}',
                                  b'{"object": "page", "entry": {"id": "682498302938465"}}',
                                  b'{"object": "page", "entry": [' + b"[" * 100_000 + b"]" * 100_000 + b"]}"])
def test_a_body_that_is_not_a_notification_is_a_400_and_stores_nothing(client, messenger, body):
    response = post(client, messenger, body=body)
    assert response.status_code == 400
    assert not Message.objects.exists()


@pytest.mark.parametrize("body", [b'{"object": "page", "entry": [{"id": "682498302938465", "messaging": {"x": 1}}]}',
                                  b'{"object": "page", "entry": ["oops"]}'])
def test_a_notification_with_nothing_readable_inside_is_acknowledged_not_refused(client, messenger, body, caplog):
    # A 4xx or 5xx makes Meta send the same notification again (and again): it is read past.
    response = post(client, messenger, body=body)
    assert response.status_code == 200
    assert not Message.objects.exists()
    assert "Skipped a malformed item in a Meta webhook" in caplog.text


def test_a_body_over_the_upload_limit_is_a_413_not_a_server_error(client, messenger, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    payload = text_payload(messenger, "x" * 2000)
    assert post(client, messenger, payload).status_code == 413
    assert post(client, messenger, payload, signature=NO_SIGNATURE).status_code == 401
    assert not Message.objects.exists()


BATCH = {(PSID, "first"), (PSID, "second"), ("7012345678901234", "someone else")}


@pytest.mark.parametrize("spoil, stored", [
    pytest.param(lambda payload: payload["entry"].insert(0, "oops"), BATCH, id="an entry a string"),
    pytest.param(lambda payload: payload["entry"].insert(0, {"id": PAGE_ID, "messaging": {"x": 1}}), BATCH,
                 id="an entry's messaging an object"),
    pytest.param(lambda payload: payload["entry"][0]["messaging"].insert(0, 7), BATCH, id="an event a number"),
    pytest.param(lambda payload: payload["entry"][0]["messaging"][0].update(message="first"),
                 BATCH - {(PSID, "first")}, id="a message a string"),
    pytest.param(lambda payload: payload["entry"][0]["messaging"][0].update(sender=["6783420917385032"]),
                 BATCH - {(PSID, "first")}, id="a sender a list"),
    pytest.param(lambda payload: payload["entry"][0]["messaging"][0]["message"].update(mid={"id": 1}),
                 BATCH - {(PSID, "first")}, id="a message id an object"),
    pytest.param(lambda payload: payload["entry"][0]["messaging"][0]["message"].update(text=["first"]),
                 BATCH - {(PSID, "first")} | {(PSID, "[Message]")}, id="a text a list"),
])
def test_one_malformed_item_is_skipped_and_the_rest_of_the_batch_is_stored(client, messenger, spoil, stored):
    payload = fixture("messenger_batch.json")
    spoil(payload)
    assert post(client, messenger, payload).status_code == 200
    assert {(m.conversation.external_thread_id, m.text) for m in user_messages().select_related("conversation")} \
        == stored


@pytest.mark.parametrize("message, text", [
    ({"attachments": [{"type": 7, "payload": "x"}]}, "[7]"),
    ({"attachments": [{"type": "location", "payload": {"coordinates": {"lat": [1], "long": 2}}}]}, "[Location]"),
    ({"attachments": [{"type": "fallback", "title": {"x": 1}, "url": 7}]}, "[Link] 7"),
    ({"attachments": [{"type": "share", "payload": {"url": ["https://x"]}}]}, "[Shared a post]"),
    ({"text": "hello", "attachments": "an image"}, "hello"),
    ({"text": "hello", "attachments": ["an image", {"type": "image"}]}, "[Photo] hello"),
    ({"text": "hello", "reply_to": "a story", "sticker_id": ["369239263222822"]}, "[Sticker] hello"),
])
def test_attachments_of_unexpected_types_still_leave_a_readable_message(client, messenger, message, text):
    payload = text_payload(messenger, "unused")
    payload["entry"][0]["messaging"][0]["message"] = {"mid": "m_odd", **message}
    assert post(client, messenger, payload).status_code == 200
    assert list(user_messages().values_list("text", flat=True)) == [text]


@pytest.mark.parametrize("connection_name, name", [
    ("messenger", "messenger_text.json"), ("messenger", "messenger_postback.json"),
    ("messenger", "messenger_fallback_link.json"), ("messenger", "messenger_like_sticker.json"),
    ("instagram", "instagram_story_mention.json"), ("instagram", "instagram_unsupported_and_echo.json"),
])
def test_no_oddly_shaped_notification_is_ever_refused_or_a_server_error(request, client, connection_name, name,
                                                                        monkeypatch):
    check_instead_of_storing(monkeypatch)
    connection = request.getfixturevalue(connection_name)
    statuses = {where: post(client, connection, payload).status_code
                for where, payload in odd_variants(fixture(name))}
    # Only a body without its `entry` list is not a notification (400); anything inside is read past.
    assert {where: status for where, status in statuses.items()
            if status != 200 and not (where.startswith("entry =") and status == 400)} == {}


# --- inbound ---------------------------------------------------------------------------


def test_a_text_message_is_stored_in_the_senders_thread_with_metas_message_id(client, messenger):
    response = post(client, messenger, fixture("messenger_text.json"))
    assert response.status_code == 200 and response.json() == {"ok": True}
    message = user_messages().get()
    assert message.text == "hello, world!"
    assert message.platform_message_id == "mid.1457764197618:41d102a3e1ae206a38"
    assert message.conversation.external_thread_id == PSID
    assert message.conversation.contact.external_id == PSID


def test_a_redelivered_message_is_stored_once_and_answered_once(client, messenger, graph,
                                                                 django_capture_on_commit_callbacks):
    payload = fixture("messenger_text.json")
    for _ in range(3):  # Meta retries a notification it thinks failed
        with django_capture_on_commit_callbacks(execute=True):
            assert post(client, messenger, payload).status_code == 200
    assert user_messages().count() == 1
    assert len(graph.delivered(PSID)) == 1


@pytest.mark.parametrize("connection_name, name, expected", [
    ("messenger", "messenger_image.json", "[Photo]"),
    ("messenger", "messenger_like_sticker.json", "[Like 👍]"),
    ("messenger", "messenger_fallback_link.json", "[Link] Order 1234 – Shop https://shop.example/orders/1234"),
    ("messenger", "messenger_postback.json", "Track my order"),
    ("instagram", "instagram_story_mention.json", "[Mentioned you in their story]"),
    ("instagram", "instagram_unsupported_and_echo.json", "[Unsupported message]"),
])
def test_what_is_not_plain_text_is_stored_as_a_readable_placeholder(request, client, connection_name, name,
                                                                    expected):
    connection = request.getfixturevalue(connection_name)
    assert post(client, connection, fixture(name)).status_code == 200
    # The Instagram fixture also holds an echo of our own reply and an unsend: neither is stored.
    assert list(user_messages().values_list("text", flat=True)) == [expected]


def test_echoes_deliveries_reads_and_reactions_are_acknowledged_and_ignored(client, messenger, graph,
                                                                            django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = post(client, messenger, fixture("messenger_not_user_messages.json"))
    assert response.status_code == 200
    assert not Message.objects.exists() and graph.calls() == []


def test_one_notification_with_several_entries_gives_several_messages_for_this_page_only(client, messenger):
    assert post(client, messenger, fixture("messenger_batch.json")).status_code == 200
    stored = {(m.conversation.external_thread_id, m.text) for m in user_messages().select_related("conversation")}
    assert stored == {(PSID, "first"), (PSID, "second"), ("7012345678901234", "someone else")}


def test_a_notification_for_the_other_product_is_acknowledged_and_ignored(client, messenger):
    # Instagram's object on the Messenger connection's URL (and the other way round).
    assert post(client, messenger, fixture("instagram_text.json")).status_code == 200
    assert not Message.objects.exists()


def test_demo_credentials_let_anyone_play_meta(client, agent, graph):
    adapter = adapter_for(Platform.INSTAGRAM)
    secrets, config = adapter.demo_credentials()
    assert secrets["app_secret"] != adapter.demo_credentials()[0]["app_secret"]
    connection = ChannelConnectionFactory(agent=agent, platform=Platform.INSTAGRAM, secrets=secrets, config=config)
    side = adapter.platform_side(connection)
    payload = fixture("instagram_text.json")
    payload["entry"][0]["id"] = side["ig_user_id"]
    assert post(client, connection, payload, secret=side["app_secret"]).status_code == 200
    assert user_messages().get().text == "hello from Instagram"
    handshake = client.get(f"/webhooks/meta/{connection.key}/", {
        "hub.mode": "subscribe", "hub.verify_token": side["verify_token"], "hub.challenge": "42"})
    assert handshake.content == b"42"


# --- outbound --------------------------------------------------------------------------


def conversation_with(client, connection, *, sender: str | None = None, hours_ago: float = 0) -> Conversation:
    """A conversation whose user last wrote `hours_ago` (no AI turn runs: nothing is committed)."""
    sender = sender or (IGSID if connection.platform == Platform.INSTAGRAM else PSID)
    post(client, connection, text_payload(connection, "I need help with my order", sender=sender))
    conversation = Conversation.objects.get(connection=connection, external_thread_id=sender)
    user_last_wrote(conversation, hours_ago=hours_ago)
    return conversation


def test_a_429_with_retry_after_waits_at_least_that_long_then_delivers(client, messenger, graph, ana):
    conversation = conversation_with(client, messenger)
    graph.fail(graph_error(4, "(#4) Application request limit reached", status=429, headers={"Retry-After": "120"}))
    before = timezone.now()
    message = reply(conversation, "Your parcel left the warehouse.", user=ana)
    assert message.delivery_status == "pending"
    assert message.next_attempt_at >= before + timedelta(seconds=120)
    assert graph.delivered(PSID) == []

    assert try_again_now(message).delivery_status == "sent"
    assert graph.delivered(PSID) == ["Your parcel left the warehouse."]
    assert message.platform_message_id.startswith("m_")


@pytest.mark.parametrize("code", [4, 17, 32, 613, 1200])
def test_rate_limit_codes_in_a_400_body_are_retried_with_metas_estimated_wait(client, messenger, graph, ana, code):
    conversation = conversation_with(client, messenger)
    usage = json.dumps({PAGE_ID: [{"type": "messenger", "call_count": 100, "total_cputime": 12, "total_time": 20,
                                   "estimated_time_to_regain_access": 3}]})
    graph.fail(graph_error(code, f"(#{code}) Calls to this API have exceeded the rate limit.",
                           headers={"X-Business-Use-Case-Usage": usage}))
    before = timezone.now()
    message = reply(conversation, "Thanks for waiting.", user=ana)
    assert message.delivery_status == "pending"
    assert message.next_attempt_at >= before + timedelta(minutes=3)
    assert "exceeded the rate limit" in message.delivery_error
    assert try_again_now(message).delivery_status == "sent"


def test_a_server_error_is_retried(client, messenger, graph, ana):
    conversation = conversation_with(client, messenger)
    graph.fail(graph_error(2, "An unexpected error has occurred. Please retry your request later.", status=500))
    message = reply(conversation, "One moment please.", user=ana)
    assert message.delivery_status == "pending" and message.delivery_attempts == 1
    assert try_again_now(message).delivery_status == "sent"
    assert graph.delivered(PSID) == ["One moment please."]


@pytest.mark.parametrize("error, reason", [
    (graph_error(551, "(#551) This person isn't available right now.", subcode=1545041),
     "Messenger: (#551) This person isn't available right now."),
    (graph_error(10, "(#10) This message is sent outside of allowed window.", subcode=2018278),
     "Messenger: (#10) This message is sent outside of allowed window."),
    (graph_error(100, "(#100) No matching user found", subcode=2018001),
     "Messenger: (#100) No matching user found"),
    (graph_error(200, "(#200) The user hasn't authorized the app to perform this action"),
     "Messenger: (#200) The user hasn't authorized the app to perform this action"),
])
def test_a_permanent_graph_error_fails_the_message_with_metas_reason(client, messenger, graph, ana, error, reason):
    conversation = conversation_with(client, messenger)
    graph.fail(error)
    message = reply(conversation, "Are you still there?", user=ana)
    assert message.delivery_status == "failed"
    assert message.delivery_error == reason
    assert message.next_attempt_at is None
    assert len(graph.calls()) == 1  # not retried


def test_an_expired_token_fails_without_the_token_in_the_reason(client, messenger, graph, ana):
    conversation = conversation_with(client, messenger)
    messenger.secrets["page_access_token"] = "EAAExpiredToken-do-not-leak"
    messenger.save()
    message = reply(conversation, "Hello?", user=ana)
    assert message.delivery_status == "failed"
    assert message.delivery_error.startswith("Messenger: Invalid OAuth access token")
    assert "EAAExpiredToken" not in message.delivery_error
    assert "EAAExpiredToken" not in graph.calls()[0].path


def test_a_long_reply_is_split_at_2000_characters_in_order_with_nothing_lost(client, messenger, graph, ana):
    conversation = conversation_with(client, messenger)
    text = " ".join(f"Step {n}: check the label on the parcel and write down the code." for n in range(1, 80))
    message = reply(conversation, text, user=ana)
    parts = graph.delivered(PSID)
    assert message.delivery_status == "sent" and len(parts) == 3
    assert all(len(part) <= 2000 for part in parts)
    assert " ".join(parts).split() == text.split()
    assert len(message.platform_message_id.split(",")) == 3


def test_instagram_splits_at_1000_utf8_bytes(client, instagram, graph, ana):
    conversation = conversation_with(client, instagram)
    text = " ".join(f"Étape {n} : vérifiez l’étiquette 📦 du colis." for n in range(1, 60))
    assert len(text) < 3000 and len(text.encode()) > 2000
    message = reply(conversation, text, user=ana)
    parts = graph.delivered(IGSID)
    assert message.delivery_status == "sent" and len(parts) >= 3
    assert all(len(part.encode("utf-8")) <= 1000 for part in parts)
    assert " ".join(parts).split() == text.split()


def test_a_retry_after_a_partial_failure_sends_only_the_parts_not_yet_delivered(client, messenger, graph, ana):
    conversation = conversation_with(client, messenger)
    paragraphs = [f"Paragraph {n}. " + "All good here. " * 100 for n in (1, 2, 3)]
    text = "\n\n".join(paragraphs)
    graph.ok().fail(graph_error(2, "An unexpected error has occurred. Please retry your request later.", status=503))
    message = reply(conversation, text, user=ana)
    assert message.delivery_status == "pending" and message.delivered_parts == 1
    assert graph.delivered(PSID) == [paragraphs[0].strip()]

    assert try_again_now(message).delivery_status == "sent"
    assert graph.delivered(PSID) == [paragraph.strip() for paragraph in paragraphs]


def test_after_24_hours_a_teammates_reply_is_tagged_human_agent(client, messenger, graph, ana):
    conversation = conversation_with(client, messenger, hours_ago=30)
    message = reply(conversation, "Sorry for the wait, here is your refund.", user=ana)
    assert message.delivery_status == "sent"
    assert graph.sent[-1]["messaging_type"] == "MESSAGE_TAG" and graph.sent[-1]["tag"] == "HUMAN_AGENT"


def test_within_24_hours_a_reply_is_a_response(client, messenger, graph, ana):
    conversation = conversation_with(client, messenger, hours_ago=23)
    reply(conversation, "Here you go.", user=ana)
    assert graph.sent[-1]["messaging_type"] == "RESPONSE" and graph.sent[-1]["tag"] is None


@pytest.mark.parametrize("hours_ago, kind, words", [
    (30, AuthorKind.AI, "24-hour"),
    (30, AuthorKind.SYSTEM, "24-hour"),
    (24 * 8, AuthorKind.TEAMMATE, "7 days"),
])
def test_a_closed_window_fails_the_message_without_calling_meta(client, instagram, graph, ana, hours_ago, kind,
                                                                words):
    conversation = conversation_with(client, instagram, hours_ago=hours_ago)
    message = reply(conversation, "Anything else?", kind=kind, user=ana if kind == AuthorKind.TEAMMATE else None)
    assert message.delivery_status == "failed"
    assert message.delivery_error.startswith("Instagram: ") and words in message.delivery_error
    assert graph.calls() == []


def test_each_users_replies_go_to_their_own_thread(client, messenger, graph, ana):
    first = conversation_with(client, messenger, sender=PSID)
    second = conversation_with(client, messenger, sender="7012345678901234")
    reply(first, "For the first customer.", user=ana)
    reply(second, "For the second customer.", user=ana)
    assert graph.delivered(PSID) == ["For the first customer."]
    assert graph.delivered("7012345678901234") == ["For the second customer."]

