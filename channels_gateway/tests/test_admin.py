"""An org admin connects a channel in Django admin: credentials go in once and never come out."""

import pytest
from django.urls import reverse

from channels_gateway.models import ChannelConnection, Platform
from channels_gateway.tests.factories import ChannelConnectionFactory
from conversations.tests.factories import AIAgentFactory
from orgs.tests.factories import UserFactory
from tests.fakes.telegram_api import FakeTelegram

pytestmark = pytest.mark.django_db

BOT_TOKEN = "123456789:AAH-test-token-not-real-0123456789ab"


@pytest.fixture
def admin_client(client):
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    return client


@pytest.fixture
def agent():
    return AIAgentFactory()


def add_telegram(admin_client, for_agent, **overrides):
    form = {
        "organization": for_agent.organization_id, "agent": for_agent.pk, "platform": Platform.TELEGRAM,
        "name": "Support bot", "is_active": "on", "config": "{}",
        "secret__telegram__bot_token": BOT_TOKEN, "secret__telegram__secret_token": "s3cret-token_1",
        **overrides,
    }
    return admin_client.post(reverse("admin:channels_gateway_channelconnection_add"), form)


def test_credentials_are_stored_and_never_shown_again(admin_client, agent):
    response = add_telegram(admin_client, agent)
    assert response.status_code == 302, response.content.decode()[:2000]
    connection = ChannelConnection.objects.get()
    assert connection.secrets == {"bot_token": BOT_TOKEN, "secret_token": "s3cret-token_1"}

    page = admin_client.get(reverse("admin:channels_gateway_channelconnection_change", args=[connection.pk]))
    html = page.content.decode()
    assert page.status_code == 200
    assert BOT_TOKEN not in html and "s3cret-token_1" not in html
    assert "bot_token: set" in html
    assert f"/webhooks/telegram/{connection.key}/" in html


def test_saving_with_blank_credentials_keeps_the_stored_ones(admin_client, agent):
    add_telegram(admin_client, agent)
    connection = ChannelConnection.objects.get()
    response = admin_client.post(
        reverse("admin:channels_gateway_channelconnection_change", args=[connection.pk]),
        {"agent": agent.pk, "name": "Renamed bot", "is_active": "on", "config": "{}",
         "secret__telegram__bot_token": "", "secret__telegram__secret_token": "rotated-secret"},
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    connection.refresh_from_db()
    assert connection.name == "Renamed bot"
    assert connection.secrets == {"bot_token": BOT_TOKEN, "secret_token": "rotated-secret"}


def test_a_new_connection_without_its_credentials_is_refused_with_a_reason(admin_client, agent):
    response = add_telegram(admin_client, agent, **{"secret__telegram__bot_token": ""})
    assert response.status_code == 200
    assert "Required for this platform." in response.content.decode()
    assert not ChannelConnection.objects.exists()


def test_an_agent_of_another_organization_is_refused(admin_client, agent):
    other_agent = AIAgentFactory()
    response = add_telegram(admin_client, agent, **{"agent": other_agent.pk})
    assert "This AI agent belongs to another organization." in response.content.decode()
    assert not ChannelConnection.objects.exists()


def test_the_register_webhook_action_points_telegram_at_the_connection(admin_client, agent, settings):
    settings.SITE_URL = "https://handoff.example.com"
    connection = ChannelConnectionFactory(
        agent=agent, platform=Platform.TELEGRAM, config={},
        secrets={"bot_token": BOT_TOKEN, "secret_token": "s3cret-token_1"},
    )
    widget = ChannelConnectionFactory(agent=agent)
    with FakeTelegram(BOT_TOKEN) as telegram:
        settings.TELEGRAM_API_BASE_URL = telegram.url
        response = admin_client.post(
            reverse("admin:channels_gateway_channelconnection_changelist"),
            {"action": "register_webhook", "_selected_action": [connection.pk, widget.pk]}, follow=True,
        )
    notes = [str(message) for message in response.context["messages"]]
    assert telegram.webhook["url"] == f"https://handoff.example.com/webhooks/telegram/{connection.key}/"
    assert telegram.webhook["secret_token"] == "s3cret-token_1"
    assert any("Webhook was set" in note for note in notes)
    assert any("no webhook" in note.lower() for note in notes)  # the widget: said, not crashed
    assert BOT_TOKEN not in response.content.decode()


def test_the_add_page_offers_every_platforms_credentials_as_password_fields(admin_client):
    html = admin_client.get(reverse("admin:channels_gateway_channelconnection_add")).content.decode()
    for field in ["secret__telegram__bot_token", "secret__slack__signing_secret", "secret__discord__public_key",
                  "secret__messenger__app_secret", "secret__whatsapp__access_token",
                  "secret__google_chat__service_account_json"]:
        assert f'type="password" name="{field}"' in html


def test_typing_real_credentials_into_a_demo_connection_makes_it_real(admin_client, agent):
    connection = ChannelConnectionFactory(agent=agent, platform=Platform.TELEGRAM, config={"demo": True},
                                          secrets={"bot_token": "1:demo", "secret_token": "demo"})
    admin_client.post(
        reverse("admin:channels_gateway_channelconnection_change", args=[connection.pk]),
        {"agent": agent.pk, "name": "Our bot", "is_active": "on", "config": '{"demo": true}',
         "secret__telegram__bot_token": BOT_TOKEN, "secret__telegram__secret_token": ""},
    )
    connection.refresh_from_db()
    assert "demo" not in connection.config  # so seed_demo never prints its secrets


def test_the_plans_channel_limit_is_explained_and_nothing_is_created(admin_client):
    from billing.plans import PLANS

    agent = AIAgentFactory(organization__plan="free")
    for _ in range(PLANS["free"].channels):
        ChannelConnectionFactory(agent=agent)
    response = add_telegram(admin_client, agent)
    assert "The free plan includes 1 channel connection." in response.content.decode()
    assert ChannelConnection.objects.filter(platform=Platform.TELEGRAM).count() == 0
