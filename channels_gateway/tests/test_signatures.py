"""Forged and replayed requests, the same checks on every platform (each platform's own tests
cover its particular ways to get a signature wrong; this is the matrix across all of them).

- A forged signature: refused (401, or 403 where Meta's recipe says so), nothing stored.
- A signature made with another connection's secret: refused, nothing stored anywhere.
- A platform that signs the time (Slack, Discord; Google Chat's token expiry): a request
  signed before the window is refused. One that does not (Telegram, Meta): a replayed valid
  delivery is accepted, and the message id stores nothing new.

Every check compares secrets in constant time (hmac.compare_digest, or the platform's own
verifier: slack_sdk's SignatureVerifier, cryptography's Ed25519, google-auth's RS256).
"""

import time

import pytest

from channels_gateway.tests.signed_webhooks import SIGNED_PLATFORMS, GoogleChat
from channels_gateway.visitor_tokens import new_visitor_token, visitor_from_token
from channels_gateway.webhook_signing import signature_header, verify
from channels_gateway.webhooks import new_webhook_secret
from conversations.models import Contact, Conversation, Message
from conversations.tests.factories import AIAgentFactory
from tests.fakes.google_chat_api import FakeGoogle

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def google_server():
    with FakeGoogle() as fake:
        yield fake


@pytest.fixture(params=SIGNED_PLATFORMS, ids=str)
def platform(request, settings):
    platform = request.param
    if isinstance(platform, GoogleChat):
        platform.serve(request.getfixturevalue("google_server"), settings)
    return platform


def stored() -> tuple[int, int, int]:
    return Message.objects.count(), Conversation.objects.count(), Contact.objects.count()


def test_a_signed_message_is_stored_once_however_often_it_is_replayed(client, platform, agent):
    connection = platform.connection(agent)
    body = platform.body(connection, "Where is my parcel?")
    headers = platform.headers(connection, body)
    for _ in range(3):  # the platform's retry, or someone who captured the request
        response = platform.post(client, connection, body, headers)
        assert response.status_code == 200, response.content
    assert list(Message.objects.values_list("text", flat=True)) == ["Where is my parcel?"]


def test_a_forged_signature_is_refused_and_stores_nothing(client, platform, agent):
    connection = platform.connection(agent)
    body = platform.body(connection, "Where is my parcel?")
    response = platform.post(client, connection, body, platform.forged_headers(connection, body))
    assert response.status_code == platform.forged_status, response.content
    assert stored() == (0, 0, 0)


def test_a_signature_made_with_another_connections_secret_is_refused(client, platform, agent, organization):
    connection = platform.connection(agent)
    other = platform.connection(AIAgentFactory(organization=organization))
    body = platform.body(connection, "Where is my parcel?")
    response = platform.post(client, connection, body, platform.headers(other, body))
    assert response.status_code == platform.forged_status, response.content
    assert stored() == (0, 0, 0)


@pytest.mark.parametrize("platform", [p for p in SIGNED_PLATFORMS if p.signs_time], ids=str, indirect=True)
def test_a_request_signed_before_the_platforms_window_is_refused(client, platform, agent):
    connection = platform.connection(agent)
    body = platform.body(connection, "Where is my parcel?")
    response = platform.post(client, connection, body, platform.headers(connection, body, age=platform.stale_age))
    assert response.status_code == 401, response.content
    assert stored() == (0, 0, 0)


# --- outbound webhooks and widget visitors: our own signatures ---------------------------------


def test_the_outbound_webhook_recipe_refuses_forged_foreign_and_old_signatures():
    secret, body = new_webhook_secret(), b'{"type": "handoff.queued"}'
    now = int(time.time())
    assert verify(secret, body, signature_header(secret, body))
    assert not verify(secret, body, signature_header(new_webhook_secret(), body))  # another endpoint's secret
    assert not verify(secret, body, f"t={now},v1={'0' * 64}")  # forged
    assert not verify(secret, body + b" ", signature_header(secret, body))  # tampered body
    assert not verify(secret, body, signature_header(secret, body, timestamp=now - 301))  # replayed later
    assert not verify(secret, body, "v1=abc")  # no timestamp
    assert not verify(secret, body, "not a header")


def test_a_widget_visitor_token_is_only_good_for_its_own_widget():
    visitor_id, token = new_visitor_token("widget-a")
    assert visitor_from_token(token, "widget-a") == visitor_id
    assert visitor_from_token(token, "widget-b") is None  # another widget's visitor
    assert visitor_from_token(token[:-2] + ("A" if token[-2] != "A" else "B") + token[-1], "widget-a") is None
    assert visitor_from_token("a.forged.token", "widget-a") is None


# --- the reliability table ---------------------------------------------------------------------


@pytest.mark.faults
def test_forged_and_replayed_webhooks_on_every_platform_store_each_real_message_once(
    client, agent, organization, settings, request, fault_report
):
    sent = genuine = 0
    for platform in SIGNED_PLATFORMS:
        if isinstance(platform, GoogleChat):
            platform.serve(request.getfixturevalue("google_server"), settings)
        connection = platform.connection(agent)
        other = platform.connection(AIAgentFactory(organization=organization))
        body = platform.body(connection, f"A real message on {platform}")
        attempts = [
            (platform.headers(connection, body), 200),  # the real one
            (platform.headers(connection, body), 200),  # replayed: nothing new
            (platform.forged_headers(connection, body), platform.forged_status),
            (platform.headers(other, body), platform.forged_status),
        ]
        if platform.signs_time:
            attempts.append((platform.headers(connection, body, age=platform.stale_age), 401))
        for headers, status in attempts:
            assert platform.post(client, connection, body, headers).status_code == status, platform
        sent += len(attempts)
        genuine += 1

    texts = list(Message.objects.values_list("text", flat=True))
    expected = [f"A real message on {platform}" for platform in SIGNED_PLATFORMS]
    lost = len(set(expected) - set(texts))
    duplicated = len(texts) - len(set(texts))
    fault_report(scenario="forged and replayed webhooks", load=f"{len(SIGNED_PLATFORMS)} platforms",
                 faults="forged, other connection's secret, replayed, signed too long ago",
                 sent=sent, stored=len(texts), delivered=genuine, duplicated=duplicated, lost=lost)
    assert sorted(texts) == sorted(expected)
    assert lost == 0 and duplicated == 0
