"""WhatsApp Cloud API through Meta's webhook and a fake Graph API on 127.0.0.1.

Inbound payloads are the documented `whatsapp_business_account` notifications
(fixtures/whatsapp/*.json), signed with the app secret as Meta signs them; outbound goes
through the real delivery service.
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
from conversations.models import AuthorKind, Contact, Conversation, Message
from tests.fakes.meta_graph_api import FakeGraphAPI, dumps, graph_error, whatsapp_error
from tests.fakes.odd_payloads import check_instead_of_storing, odd_variants

pytestmark = pytest.mark.django_db

FIXTURES = Path(__file__).parent / "fixtures" / "whatsapp"
PHONE_NUMBER_ID, WA_ID = "106540352242922", "16505551234"
TOKEN = "EAAWhatsAppSystemUserToken0123456789"


def fixture(name: str) -> dict:
    return json.loads((FIXTURES / name).read_text())


@pytest.fixture
def graph(settings):
    with FakeGraphAPI() as fake:
        settings.META_GRAPH_BASE_URL = fake.base_url
        fake.add_phone_number(PHONE_NUMBER_ID, TOKEN)
        yield fake


@pytest.fixture
def whatsapp(agent, graph):
    return ChannelConnectionFactory(
        agent=agent, platform=Platform.WHATSAPP, name="Shop on WhatsApp",
        secrets={"app_secret": "whatsapp-app-secret", "verify_token": "verify-wa", "access_token": TOKEN},
        config={"phone_number_id": PHONE_NUMBER_ID, "template_name": "", "template_language": "en_US"},
    )


def post(client, connection, payload=None, *, body: bytes | None = None, signature: str | None = None,
         secret: str | None = None):
    raw = body if body is not None else dumps(payload)
    if signature is None:
        signature = sign(secret or connection.secrets["app_secret"], raw)
    headers = {"HTTP_X_HUB_SIGNATURE_256": signature} if signature else {}
    return client.post(f"/webhooks/whatsapp/{connection.key}/", data=raw, content_type="application/json",
                       **headers)


_ids = iter(range(1, 10_000))


def text_payload(text: str, *, sender: str = WA_ID, name: str = "Sheena Nelson") -> dict:
    payload = copy.deepcopy(fixture("text.json"))
    value = payload["entry"][0]["changes"][0]["value"]
    value["contacts"] = [{"profile": {"name": name}, "wa_id": sender}]
    message = value["messages"][0]
    message.update({"from": sender, "id": f"wamid.TEST{next(_ids):06d}", "text": {"body": text}})
    return payload


def user_messages():
    return Message.objects.filter(author_kind=AuthorKind.USER)


# --- the round trip ---------------------------------------------------------------------


def test_the_round_trip(client, whatsapp, graph, ana, django_capture_on_commit_callbacks):
    run_round_trip(
        Channel(whatsapp, say=lambda text: post(client, whatsapp, text_payload(text)),
                delivered=lambda: graph.delivered(WA_ID)),
        teammate=ana, capture=django_capture_on_commit_callbacks,
    )
    assert {item["type"] for item in graph.sent} == {"text"}
    assert all(request.path == f"/v21.0/{PHONE_NUMBER_ID}/messages"
               and request.headers["authorization"] == f"Bearer {TOKEN}" for request in graph.calls())
    assert all(request.json()["messaging_product"] == "whatsapp"
               and request.json()["text"]["preview_url"] is False for request in graph.calls())


# --- verification ----------------------------------------------------------------------


def test_the_subscribe_handshake_echoes_the_challenge_only_for_the_right_verify_token(client, whatsapp):
    url = f"/webhooks/whatsapp/{whatsapp.key}/"
    good = client.get(url, {"hub.mode": "subscribe", "hub.verify_token": "verify-wa", "hub.challenge": "987654"})
    assert good.status_code == 200 and good.content == b"987654"
    assert good["Content-Type"].startswith("text/plain")
    assert client.get(url, {"hub.mode": "subscribe", "hub.verify_token": "nope",
                            "hub.challenge": "987654"}).status_code == 403
    assert client.get(url, {"hub.challenge": "987654"}).status_code == 403


@pytest.mark.parametrize("how, status", [("missing", 401), ("wrong secret", 403), ("tampered body", 403)])
def test_an_unsigned_or_wrongly_signed_notification_is_refused_and_stores_nothing(client, whatsapp, graph, how,
                                                                                  status):
    payload = fixture("text.json")
    raw = dumps(payload)
    if how == "missing":
        response = post(client, whatsapp, payload, signature="")
    elif how == "wrong secret":
        response = post(client, whatsapp, payload, secret="guessed-secret")
    else:
        response = post(client, whatsapp, body=raw.replace(b"another color", b"a free upgrade"),
                        signature=sign("whatsapp-app-secret", raw))
    assert response.status_code == status
    assert not Message.objects.exists() and not Contact.objects.exists()
    assert graph.calls() == []


@pytest.mark.parametrize("body", [b"{", b'"a string"', b'{"object": "whatsapp_business_account", "entry": {}}',
                                  b'{"entry": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"])
def test_a_body_that_is_not_a_notification_is_a_400_and_stores_nothing(client, whatsapp, body):
    assert post(client, whatsapp, body=body).status_code == 400
    assert not Message.objects.exists()


def test_a_notification_with_nothing_readable_inside_is_acknowledged_not_refused(client, whatsapp, caplog):
    # A 4xx or 5xx makes Meta send the same notification again (and again): it is read past.
    body = b'{"object": "whatsapp_business_account", "entry": [{"changes": [1]}]}'
    assert post(client, whatsapp, body=body).status_code == 200
    assert not Message.objects.exists()
    assert "1 of 1 items in `changes` are not objects" in caplog.text


def test_a_body_over_the_upload_limit_is_a_413_not_a_server_error(client, whatsapp, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    payload = text_payload("x" * 2000)
    assert post(client, whatsapp, payload).status_code == 413
    assert post(client, whatsapp, payload, signature="").status_code == 401
    assert not Message.objects.exists()


def batch(*texts: str) -> dict:
    """One notification with a message from each of several senders."""
    payload = text_payload(texts[0], sender="15550000000", name="Sender 0")
    value = payload["entry"][0]["changes"][0]["value"]
    for n, text in enumerate(texts[1:], start=1):
        other = text_payload(text, sender=f"1555000000{n}", name=f"Sender {n}")["entry"][0]["changes"][0]["value"]
        value["contacts"] += other["contacts"]
        value["messages"] += other["messages"]
    return payload


def stored_by_sender() -> dict[str, tuple[str, str]]:
    return {m.conversation.contact.external_id: (m.text, m.conversation.contact.display_name)
            for m in user_messages().select_related("conversation__contact")}


ALL_THREE = {"15550000000": ("one", "Sender 0"), "15550000001": ("two", "Sender 1"),
             "15550000002": ("three", "Sender 2")}


def _value(payload: dict) -> dict:
    return payload["entry"][0]["changes"][0]["value"]


@pytest.mark.parametrize("spoil, stored", [
    pytest.param(lambda p: _value(p)["contacts"][1].update(profile="Sender 1"),
                 {**ALL_THREE, "15550000001": ("two", "")}, id="a contact's profile a string"),
    pytest.param(lambda p: _value(p)["contacts"][1]["profile"].update(name={"first": "S"}),
                 {**ALL_THREE, "15550000001": ("two", "")}, id="a profile's name an object"),
    pytest.param(lambda p: _value(p)["contacts"].insert(0, "15550000001"), ALL_THREE, id="a contact a string"),
    pytest.param(lambda p: _value(p)["contacts"][0].update(wa_id=["15550000000"]),
                 {**ALL_THREE, "15550000000": ("one", "")}, id="a wa_id a list"),
    pytest.param(lambda p: _value(p).update(contacts={"wa_id": "15550000000"}),
                 {sender: (text, "") for sender, (text, _) in ALL_THREE.items()}, id="contacts an object"),
    pytest.param(lambda p: _value(p)["messages"].insert(1, "two and a half"), ALL_THREE, id="a message a string"),
    pytest.param(lambda p: _value(p)["messages"][1].update({"from": {"wa_id": "15550000001"}}),
                 {k: v for k, v in ALL_THREE.items() if k != "15550000001"}, id="a sender an object"),
    pytest.param(lambda p: _value(p)["messages"][1].update(text={"body": ["two"]}),
                 {k: v for k, v in ALL_THREE.items() if k != "15550000001"}, id="a text body a list"),
    pytest.param(lambda p: _value(p)["messages"][1].update(type="location", location={"latitude": [1], "name": 7}),
                 {**ALL_THREE, "15550000001": ("[Location 7]", "Sender 1")}, id="a location of odd types"),
    pytest.param(lambda p: _value(p)["messages"][1].update(type=["text"]),
                 {**ALL_THREE, "15550000001": ("[Unsupported message]", "Sender 1")}, id="a type a list"),
    pytest.param(lambda p: _value(p).update(statuses=[7, {"status": "failed", "errors": "x"}]), ALL_THREE,
                 id="statuses of odd types"),
    pytest.param(lambda p: p["entry"][0]["changes"].insert(0, {"field": "messages", "value": "x"}), ALL_THREE,
                 id="a change's value a string"),
])
def test_one_malformed_item_is_skipped_and_the_rest_of_the_batch_is_stored(client, whatsapp, spoil, stored):
    payload = batch("one", "two", "three")
    spoil(payload)
    assert post(client, whatsapp, payload).status_code == 200
    assert stored_by_sender() == stored


@pytest.mark.parametrize("name", ["text.json", "interactive_replies.json", "unsupported_types.json",
                                  "statuses.json"])
def test_no_oddly_shaped_notification_is_ever_refused_or_a_server_error(client, whatsapp, name,
                                                                        monkeypatch):
    check_instead_of_storing(monkeypatch)
    statuses = {where: post(client, whatsapp, payload).status_code
                for where, payload in odd_variants(fixture(name))}
    # Only a body without its `entry` list is not a notification (400); anything inside is read past.
    assert {where: status for where, status in statuses.items()
            if status != 200 and not (where.startswith("entry =") and status == 400)} == {}


# --- inbound ---------------------------------------------------------------------------


def test_a_text_message_is_stored_with_the_wamid_and_the_contacts_profile_name(client, whatsapp):
    response = post(client, whatsapp, fixture("text.json"))
    assert response.status_code == 200
    message = user_messages().select_related("conversation__contact").get()
    assert message.text == "Does it come in another color?"
    assert message.platform_message_id == "wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQTRBNjU5OUFFRTAzODEwMTQ0RgA="
    assert message.conversation.external_thread_id == WA_ID
    assert message.conversation.contact.display_name == "Sheena Nelson"


def test_a_redelivered_message_is_stored_once_and_answered_once(client, whatsapp, graph,
                                                                 django_capture_on_commit_callbacks):
    payload = fixture("text.json")
    for _ in range(3):
        with django_capture_on_commit_callbacks(execute=True):
            assert post(client, whatsapp, payload).status_code == 200
    assert user_messages().count() == 1
    assert len(graph.delivered(WA_ID)) == 1


def test_media_locations_contacts_reactions_and_unknown_types_become_placeholders(client, whatsapp):
    assert post(client, whatsapp, fixture("unsupported_types.json")).status_code == 200
    assert list(user_messages().order_by("pk").values_list("text", flat=True)) == [
        "[Photo] The box arrived broken",
        "[Voice message]",
        "[Document] invoice-1234.pdf my invoice",
        "[Sticker]",
        "[Location Meta Headquarters 1 Hacker Way, Menlo Park, CA 94025 (37.483872693672, -122.14835416322)]",
        "[Contact: Barbara J. Johnson]",
        "[Reaction 👍]",
        "[Unsupported message]",
    ]


def test_tapped_buttons_and_list_rows_arrive_as_their_titles(client, whatsapp):
    assert post(client, whatsapp, fixture("interactive_replies.json")).status_code == 200
    assert list(user_messages().order_by("pk").values_list("text", flat=True)) == [
        "Order status", "Returns", "Talk to us"]


def test_status_updates_are_acknowledged_and_store_nothing(client, whatsapp, graph,
                                                           django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = post(client, whatsapp, fixture("statuses.json"))
    assert response.status_code == 200 and response.json() == {"ok": True}
    assert not Message.objects.exists() and graph.calls() == []


@pytest.mark.parametrize("name", ["other_phone_number.json", "group_message.json"])
def test_messages_to_another_number_or_in_a_group_are_acknowledged_and_ignored(client, whatsapp, name):
    assert post(client, whatsapp, fixture(name)).status_code == 200
    assert not Message.objects.exists()


def test_demo_credentials_let_anyone_play_whatsapp(client, agent, graph):
    adapter = adapter_for(Platform.WHATSAPP)
    secrets, config = adapter.demo_credentials()
    connection = ChannelConnectionFactory(agent=agent, platform=Platform.WHATSAPP, secrets=secrets, config=config)
    side = adapter.platform_side(connection)
    payload = fixture("text.json")
    payload["entry"][0]["changes"][0]["value"]["metadata"]["phone_number_id"] = side["phone_number_id"]
    assert post(client, connection, payload, secret=side["app_secret"]).status_code == 200
    assert user_messages().count() == 1


# --- outbound --------------------------------------------------------------------------


def conversation_with(client, connection, *, sender: str = WA_ID, hours_ago: float = 0) -> Conversation:
    """A conversation whose user last wrote `hours_ago` (no AI turn runs: nothing is committed)."""
    post(client, connection, text_payload("Where is my order?", sender=sender))
    conversation = Conversation.objects.get(connection=connection, external_thread_id=sender)
    user_last_wrote(conversation, hours_ago=hours_ago)
    return conversation


def test_a_429_with_retry_after_waits_at_least_that_long_then_delivers(client, whatsapp, graph, ana):
    conversation = conversation_with(client, whatsapp)
    graph.fail(whatsapp_error(130429, "Rate limit hit", "Cloud API message throughput has been reached.",
                              status=429, headers={"Retry-After": "90"}))
    before = timezone.now()
    message = reply(conversation, "It ships tomorrow.", user=ana)
    assert message.delivery_status == "pending"
    assert message.next_attempt_at >= before + timedelta(seconds=90)
    assert try_again_now(message).delivery_status == "sent"
    assert graph.delivered(WA_ID) == ["It ships tomorrow."]
    assert message.platform_message_id.startswith("wamid.")


@pytest.mark.parametrize("code, title", [
    (130429, "Rate limit hit"),
    (131048, "Spam rate limit hit"),
    (131056, "(Business Account, Consumer Account) pair rate limit hit"),
    (80007, "Rate limit issues"),
    (4, "Too many calls"),
])
def test_rate_limit_codes_in_a_400_body_are_retried(client, whatsapp, graph, ana, code, title):
    conversation = conversation_with(client, whatsapp)
    graph.fail(whatsapp_error(code, title, "Too many messages sent from this phone number in a short period of time"))
    message = reply(conversation, "Thanks!", user=ana)
    assert message.delivery_status == "pending" and title in message.delivery_error
    assert try_again_now(message).delivery_status == "sent"


def test_a_server_error_is_retried(client, whatsapp, graph, ana):
    conversation = conversation_with(client, whatsapp)
    graph.fail(whatsapp_error(131000, "Something went wrong", "Message failed to send due to an unknown error.",
                              status=500))
    message = reply(conversation, "Checking now.", user=ana)
    assert message.delivery_status == "pending"
    assert try_again_now(message).delivery_status == "sent"


@pytest.mark.parametrize("error, reason", [
    (whatsapp_error(131047, "Re-engagement message", "Message failed to send because more than 24 hours have "
                    "passed since the customer last replied to this number."),
     "WhatsApp: (#131047) Re-engagement message: Message failed to send because more than 24 hours have passed "
     "since the customer last replied to this number."),
    (whatsapp_error(131026, "Message Undeliverable", "Unable to deliver message."),
     "WhatsApp: (#131026) Message Undeliverable: Unable to deliver message."),
    (whatsapp_error(131051, "Unsupported message type", "Message type is not currently supported."),
     "WhatsApp: (#131051) Unsupported message type: Message type is not currently supported."),
    (graph_error(190, "Error validating access token: Session has expired on Friday, 20-Jun-25.", status=401,
                 whatsapp=True),
     "WhatsApp: Error validating access token: Session has expired on Friday, 20-Jun-25."),
])
def test_a_permanent_error_fails_the_message_with_whatsapps_reason(client, whatsapp, graph, ana, error, reason):
    conversation = conversation_with(client, whatsapp)
    graph.fail(error)
    message = reply(conversation, "Are you there?", user=ana)
    assert message.delivery_status == "failed" and message.delivery_error == reason
    assert len(graph.calls()) == 1


def test_a_wrong_token_fails_without_the_token_in_the_reason(client, whatsapp, graph, ana):
    conversation = conversation_with(client, whatsapp)
    whatsapp.secrets["access_token"] = "EAAWrongToken-keep-it-secret"
    whatsapp.save()
    message = reply(conversation, "Hello?", user=ana)
    assert message.delivery_status == "failed" and "Invalid OAuth access token" in message.delivery_error
    assert "keep-it-secret" not in message.delivery_error and "keep-it-secret" not in graph.calls()[0].path


def test_a_long_reply_is_split_at_4096_characters_in_order_with_nothing_lost(client, whatsapp, graph, ana):
    conversation = conversation_with(client, whatsapp)
    text = "\n".join(f"{n}. Open the app, tap Orders, pick the order and choose Return. 🙂" for n in range(1, 130))
    message = reply(conversation, text, user=ana)
    parts = graph.delivered(WA_ID)
    assert message.delivery_status == "sent" and len(parts) == 3
    assert all(len(part) <= 4096 for part in parts)
    assert "\n".join(parts) == text


def test_a_retry_after_a_partial_failure_sends_only_the_parts_not_yet_delivered(client, whatsapp, graph, ana):
    conversation = conversation_with(client, whatsapp)
    paragraphs = [f"Part {n}. " + "Everything is on its way. " * 150 for n in (1, 2, 3)]
    graph.ok(2).fail(whatsapp_error(130429, "Rate limit hit", "Throughput reached."))
    message = reply(conversation, "\n\n".join(paragraphs), user=ana)
    assert message.delivery_status == "pending" and message.delivered_parts == 2
    assert try_again_now(message).delivery_status == "sent"
    assert graph.delivered(WA_ID) == [paragraph.strip() for paragraph in paragraphs]


def test_after_24_hours_a_teammates_reply_goes_out_as_the_configured_template(client, whatsapp, graph, ana):
    whatsapp.config.update(template_name="support_reply", template_language="pt_BR")
    whatsapp.save()
    conversation = conversation_with(client, whatsapp, hours_ago=26)
    message = reply(conversation, "Your refund is approved.\nIt takes 3 days.", user=ana)
    assert message.delivery_status == "sent"
    sent = graph.sent[-1]
    assert sent["type"] == "template"
    assert sent["template"] == {"name": "support_reply", "language": {"code": "pt_BR"}, "components": [
        {"type": "body", "parameters": [{"type": "text", "text": "Your refund is approved. It takes 3 days."}]}]}


def test_a_reply_partly_sent_before_the_window_closed_is_not_finished_as_a_template(client, whatsapp, graph, ana):
    whatsapp.config.update(template_name="support_reply")
    whatsapp.save()
    conversation = conversation_with(client, whatsapp, hours_ago=23)
    paragraphs = [f"Part {n}. " + "Everything is on its way. " * 150 for n in (1, 2, 3)]
    graph.ok(1).fail(whatsapp_error(130429, "Rate limit hit", "Throughput reached."))
    message = reply(conversation, "\n\n".join(paragraphs), user=ana)
    assert message.delivery_status == "pending" and message.delivered_parts == 1

    # Two hours pass: the retry comes after the 24-hour window closed, and the template
    # would split the reply differently.
    for stored in Message.objects.filter(conversation=conversation):
        Message.objects.filter(pk=stored.pk).update(created_at=stored.created_at - timedelta(hours=2))
    calls_before = len(graph.calls())
    message = try_again_now(message)
    assert message.delivery_status == "failed"
    assert message.delivery_error.startswith("WhatsApp: 1 part(s) of this reply went out before the 24-hour")
    assert len(graph.calls()) == calls_before  # nothing more was sent
    assert graph.delivered(WA_ID) == [paragraphs[0].strip()]


def test_a_template_reply_written_after_the_window_resumes_where_it_stopped(client, whatsapp, graph, ana):
    whatsapp.config.update(template_name="support_reply")
    whatsapp.save()
    conversation = conversation_with(client, whatsapp, hours_ago=30)
    text = " ".join(f"Sentence {n} of a long answer." for n in range(80))  # over 900: two templates
    graph.ok(1).fail(whatsapp_error(130429, "Rate limit hit", "Throughput reached."))
    message = reply(conversation, text, user=ana)
    assert message.delivery_status == "pending" and message.delivered_parts == 1
    assert try_again_now(message).delivery_status == "sent"
    sent = [item for item in graph.sent if item["to"] == WA_ID]
    assert len(sent) >= 2 and {item["type"] for item in sent} == {"template"}
    assert " ".join(item["text"] for item in sent) == text  # each part once, in order


@pytest.mark.parametrize("kind, template, reason", [
    (AuthorKind.TEAMMATE, "", "Outside WhatsApp's 24-hour window and no template is configured"),
    (AuthorKind.AI, "support_reply", "WhatsApp: outside the 24-hour customer-service window"),
    (AuthorKind.SYSTEM, "support_reply", "WhatsApp: outside the 24-hour customer-service window"),
])
def test_after_24_hours_without_a_template_or_for_the_ai_the_message_fails_before_any_call(
        client, whatsapp, graph, ana, kind, template, reason):
    whatsapp.config["template_name"] = template
    whatsapp.save()
    conversation = conversation_with(client, whatsapp, hours_ago=25)
    message = reply(conversation, "Following up.", kind=kind, user=ana if kind == AuthorKind.TEAMMATE else None)
    assert message.delivery_status == "failed" and message.delivery_error.startswith(reason)
    assert graph.calls() == []


def test_each_users_replies_go_to_their_own_chat(client, whatsapp, graph, ana):
    first = conversation_with(client, whatsapp, sender=WA_ID)
    second = conversation_with(client, whatsapp, sender="447700900123")
    reply(second, "For the second customer.", user=ana)
    reply(first, "For the first customer.", user=ana)
    assert graph.delivered(WA_ID) == ["For the first customer."]
    assert graph.delivered("447700900123") == ["For the second customer."]
