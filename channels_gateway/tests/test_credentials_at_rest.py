"""Channel credentials and webhook signing secrets are encrypted at rest and never logged.

- The column (read with SQL, not the ORM) holds a Fernet token: no credential, not even
  the credentials' names. Everything that reads them still works (the platform tests, the
  outbound webhook tests, seed_demo's).
- A missing or wrong key is a clear error where the credential is needed: a webhook gets
  503 (the platform tries again once the key is back), a delivery waits with a reason the
  inbox shows, the admin asks for the credentials again; never a 500.
- Rotation (manage.py rotate_credentials_key) and the migration (both ways).
- Webhooks, deliveries and failures on every platform, logged at DEBUG: no credential in
  any log record, exception text, response or delivery reason.
"""

import logging

import pytest
from cryptography.fernet import Fernet
from django.core.exceptions import ImproperlyConfigured
from django.core.management import CommandError, call_command
from django.db import connection as db
from django.urls import reverse
from django.utils import timezone

from channels_gateway.adapters.registry import ADAPTER_PATHS, adapter_for
from channels_gateway.encryption import CredentialsUnreadable, check_keys_at_startup
from channels_gateway.models import ChannelConnection, Platform
from channels_gateway.services import deliver_message
from channels_gateway.tests.delivery import reply
from channels_gateway.tests.factories import ChannelConnectionFactory
from channels_gateway.tests.signed_webhooks import SIGNED_PLATFORMS, GoogleChat
from channels_gateway.webhook_services import deliver_webhook
from channels_gateway.webhooks import WebhookDelivery, WebhookEndpoint
from conversations.models import AuthorKind, Contact, Conversation, DeliveryStatus, Message
from orgs.tests.factories import UserFactory
from tests.fakes.google_chat_api import FakeGoogle

pytestmark = pytest.mark.django_db


def new_key() -> str:
    return Fernet.generate_key().decode()


def stored_column(model, field: str, pk: int) -> str:
    table, column = model._meta.db_table, model._meta.get_field(field).column
    with db.cursor() as cursor:
        cursor.execute(f'SELECT "{column}" FROM "{table}" WHERE id = %s', [pk])
        return cursor.fetchone()[0]


def reloaded(connection: ChannelConnection) -> ChannelConnection:
    return ChannelConnection.objects.get(pk=connection.pk)


@pytest.fixture(scope="module")
def google_server():
    with FakeGoogle() as fake:
        yield fake


@pytest.fixture
def platform(request, settings):
    platform = request.param
    if isinstance(platform, GoogleChat):
        platform.serve(request.getfixturevalue("google_server"), settings)
    return platform


@pytest.fixture
def telegram(agent):
    return ChannelConnectionFactory(agent=agent, platform=Platform.TELEGRAM,
                                    secrets=adapter_for(Platform.TELEGRAM).demo_credentials()[0])


# --- at rest -------------------------------------------------------------------------------------


@pytest.mark.parametrize("platform_name", list(ADAPTER_PATHS))
def test_the_column_holds_a_token_not_the_credentials(agent, platform_name):
    credentials, config = adapter_for(platform_name).demo_credentials()
    connection = ChannelConnectionFactory(agent=agent, platform=platform_name, secrets=credentials, config=config)

    raw = stored_column(ChannelConnection, "secrets", connection.pk)
    assert raw.startswith("gAAAAA")  # a Fernet token
    for name, value in credentials.items():
        assert name not in raw and value not in raw
    assert reloaded(connection).secrets == credentials


def test_a_webhook_signing_secret_is_encrypted_and_still_signs(organization):
    endpoint = WebhookEndpoint.objects.create(organization=organization, url="https://example.com/hooks")
    raw = stored_column(WebhookEndpoint, "secret", endpoint.pk)
    assert raw.startswith("gAAAAA") and endpoint.secret not in raw and "whsec_" not in raw
    assert WebhookEndpoint.objects.get(pk=endpoint.pk).secret == endpoint.secret


def test_nothing_else_in_the_database_holds_a_credential(telegram):
    token = telegram.secrets["bot_token"]
    with db.cursor() as cursor:  # every text-like column of every table
        cursor.execute("""SELECT table_name, column_name FROM information_schema.columns
                          WHERE table_schema = 'public' AND data_type IN ('text', 'character varying', 'jsonb')""")
        columns = cursor.fetchall()
        for table, column in columns:
            cursor.execute(f'SELECT count(*) FROM "{table}" WHERE "{column}"::text LIKE %s', [f"%{token}%"])
            assert cursor.fetchone()[0] == 0, f"{table}.{column}"


# --- a missing or wrong key ----------------------------------------------------------------------


@pytest.mark.parametrize("platform", [p for p in SIGNED_PLATFORMS if not isinstance(p, GoogleChat)],
                         ids=str, indirect=True)
def test_with_a_wrong_key_a_webhook_gets_503_until_the_key_is_back(client, platform, agent, settings, caplog):
    connection = platform.connection(agent)
    body = platform.body(connection, "Where is my parcel?")
    headers = platform.headers(connection, body)
    right_keys = settings.FIELD_ENCRYPTION_KEYS

    settings.FIELD_ENCRYPTION_KEYS = [new_key()]  # rotated wrongly: the old key was dropped
    with caplog.at_level(logging.ERROR, logger="channels_gateway.views"):
        response = platform.post(client, connection, body, headers)
    assert response.status_code == 503 and response.headers["Retry-After"]
    assert "FIELD_ENCRYPTION_KEYS" in caplog.text
    assert not Message.objects.exists()

    settings.FIELD_ENCRYPTION_KEYS = right_keys  # the platform's retry, once the key is back
    assert platform.post(client, connection, body, headers).status_code == 200
    assert Message.objects.count() == 1


def test_with_a_wrong_key_a_reply_waits_with_a_reason_the_inbox_shows(telegram, settings, caplog):
    contact = Contact.objects.create(connection=telegram, organization=telegram.organization, external_id="1",
                                     display_name="Test")
    conversation = Conversation.objects.create(connection=telegram, organization=telegram.organization,
                                               agent=telegram.agent, contact=contact, external_thread_id="1")
    settings.FIELD_ENCRYPTION_KEYS = [new_key()]
    message = reply(conversation, "On its way", kind=AuthorKind.AI)
    assert message.delivery_status == DeliveryStatus.PENDING  # tried again: the key may come back
    assert "cannot be decrypted" in message.delivery_error and "FIELD_ENCRYPTION_KEYS" in message.delivery_error
    assert "connection %s" % telegram.pk in caplog.text


def test_with_a_wrong_key_reading_the_credentials_raises_a_clear_error(telegram, settings):
    settings.FIELD_ENCRYPTION_KEYS = [new_key()]
    connection = reloaded(telegram)  # loading still works: the webhook view finds it by key
    assert not connection.secrets_readable
    with pytest.raises(CredentialsUnreadable, match="ChannelConnection.secrets cannot be decrypted"):
        connection.secrets.get("bot_token")
    assert repr(connection.secrets) == "<unreadable credentials>"


def test_saving_a_connection_whose_credentials_no_key_reads_keeps_them(telegram, settings):
    right_keys = settings.FIELD_ENCRYPTION_KEYS
    settings.FIELD_ENCRYPTION_KEYS = [new_key()]
    connection = reloaded(telegram)
    connection.name = "Renamed"
    connection.save()
    settings.FIELD_ENCRYPTION_KEYS = right_keys
    assert reloaded(telegram).secrets == telegram.secrets and reloaded(telegram).name == "Renamed"


def test_with_a_wrong_key_the_admin_asks_for_the_credentials_again(client, telegram, settings):
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    settings.FIELD_ENCRYPTION_KEYS = [new_key()]
    assert client.get(reverse("admin:channels_gateway_channelconnection_changelist")).status_code == 200
    change_url = reverse("admin:channels_gateway_channelconnection_change", args=[telegram.pk])
    page = client.get(change_url)
    assert page.status_code == 200
    assert "cannot decrypt" in page.content.decode()

    form = {"agent": telegram.agent_id, "name": telegram.name, "is_active": "on", "config": "{}",
            "secret__telegram__bot_token": "", "secret__telegram__secret_token": ""}
    assert client.post(change_url, form).status_code == 200  # refused: both are required again
    form.update({"secret__telegram__bot_token": "123:new-token", "secret__telegram__secret_token": "new-secret"})
    assert client.post(change_url, form).status_code == 302
    assert reloaded(telegram).secrets == {"bot_token": "123:new-token", "secret_token": "new-secret"}


def test_with_a_wrong_key_an_outbound_webhook_waits_with_a_reason(organization, settings):
    endpoint = WebhookEndpoint.objects.create(organization=organization, url="https://example.com/hooks")
    delivery = WebhookDelivery.objects.create(organization=organization, endpoint=endpoint,
                                              event_type="handoff.queued", payload={},
                                              next_attempt_at=timezone.now())
    settings.FIELD_ENCRYPTION_KEYS = [new_key()]
    assert deliver_webhook(delivery_id=delivery.pk) == "pending"
    delivery.refresh_from_db()
    assert "cannot be decrypted" in delivery.last_error
    assert "unreadable" in WebhookEndpoint.objects.get(pk=endpoint.pk).masked_secret


# --- keys at startup, rotation, migration --------------------------------------------------------


def test_production_without_its_own_key_is_warned_at_startup(settings, caplog):
    settings.FIELD_ENCRYPTION_KEYS, settings.DEBUG, settings.EMBEDDED = [], False, False
    with caplog.at_level(logging.WARNING, logger="channels_gateway.encryption"):
        check_keys_at_startup()
    assert "FIELD_ENCRYPTION_KEYS is not set" in caplog.text

    caplog.clear()
    settings.FIELD_ENCRYPTION_KEYS = [new_key()]
    check_keys_at_startup()
    assert caplog.text == ""


def test_a_malformed_key_stops_the_process_with_a_reason(settings):
    settings.FIELD_ENCRYPTION_KEYS = [new_key(), "not-a-key"]
    with pytest.raises(ImproperlyConfigured, match="FIELD_ENCRYPTION_KEYS: key 2 is not a Fernet key"):
        check_keys_at_startup()


def test_rotation_re_encrypts_everything_with_the_new_key(telegram, organization, settings, capsys):
    endpoint = WebhookEndpoint.objects.create(organization=organization, url="https://example.com/hooks")
    old_keys, fresh = settings.FIELD_ENCRYPTION_KEYS, new_key()
    before = stored_column(ChannelConnection, "secrets", telegram.pk)

    settings.FIELD_ENCRYPTION_KEYS = [fresh, *old_keys]  # step 1: the new key first, the old one kept
    assert reloaded(telegram).secrets == telegram.secrets
    call_command("rotate_credentials_key")  # step 2
    assert "2 stored credentials re-encrypted" in capsys.readouterr().out
    assert stored_column(ChannelConnection, "secrets", telegram.pk) != before

    settings.FIELD_ENCRYPTION_KEYS = [fresh]  # step 3: the old key dropped
    assert reloaded(telegram).secrets == telegram.secrets
    assert WebhookEndpoint.objects.get(pk=endpoint.pk).secret == endpoint.secret


def test_rotation_names_what_no_key_decrypts_and_leaves_it(telegram, settings):
    settings.FIELD_ENCRYPTION_KEYS = [new_key()]
    before = stored_column(ChannelConnection, "secrets", telegram.pk)
    with pytest.raises(CommandError, match=f"channels_gateway.ChannelConnection {telegram.pk}"):
        call_command("rotate_credentials_key", "--dry-run")
    with pytest.raises(CommandError):
        call_command("rotate_credentials_key")
    assert stored_column(ChannelConnection, "secrets", telegram.pk) == before


@pytest.mark.django_db(transaction=True)
def test_the_migration_encrypts_stored_credentials_and_reverses(telegram, organization):
    endpoint = WebhookEndpoint.objects.create(organization=organization, url="https://example.com/hooks")
    token = telegram.secrets["bot_token"]
    try:
        call_command("migrate", "channels_gateway", "0005", verbosity=0)
        with db.cursor() as cursor:  # back to plain JSON and text, as before the migration
            cursor.execute("SELECT secrets->>'bot_token' FROM channels_gateway_channelconnection WHERE id = %s",
                           [telegram.pk])
            assert cursor.fetchone()[0] == token
            cursor.execute("SELECT secret FROM channels_gateway_webhookendpoint WHERE id = %s", [endpoint.pk])
            assert cursor.fetchone()[0] == endpoint.secret
    finally:
        call_command("migrate", "channels_gateway", verbosity=0)
    raw = stored_column(ChannelConnection, "secrets", telegram.pk)
    assert raw.startswith("gAAAAA") and token not in raw
    assert reloaded(telegram).secrets == telegram.secrets
    assert WebhookEndpoint.objects.get(pk=endpoint.pk).secret == endpoint.secret


# --- never logged --------------------------------------------------------------------------------


def everything_logged(records) -> str:
    formatter = logging.Formatter("%(name)s %(levelname)s %(message)s")
    return "\n".join(formatter.format(record) for record in records)


@pytest.mark.parametrize("platform", SIGNED_PLATFORMS, ids=str, indirect=True)
def test_no_credential_reaches_a_log_record_a_response_or_a_delivery_reason(
    client, platform, agent, organization, settings, caplog, django_capture_on_commit_callbacks
):
    connection = platform.connection(agent)
    other = platform.connection(agent)
    responses = []

    def say(text, headers_for):
        body = platform.body(connection, text)
        responses.append(platform.post(client, connection, body, headers_for(body)))
        return responses[-1]

    with caplog.at_level(logging.DEBUG), platform.api(settings, connection):
        with django_capture_on_commit_callbacks(execute=True):  # stored, answered by the AI, delivered
            assert say("Hello there", lambda body: platform.headers(connection, body)).status_code == 200
        conversation = Conversation.objects.get(connection=connection)
        assert conversation.messages.exclude(author_kind=AuthorKind.USER).get().delivery_status == "sent"
        say("forged", lambda body: platform.forged_headers(connection, body))
        say("another connection's", lambda body: platform.headers(other, body))

        platform.make_unreachable(settings)
        unreachable = reply(conversation, "The platform is away", kind=AuthorKind.AI)
        assert unreachable.delivery_status == DeliveryStatus.PENDING

        settings.FIELD_ENCRYPTION_KEYS = [new_key()]
        say("a wrong key", lambda body: platform.headers(connection, body))
        deliver_message(message_id=reply(conversation, "Under a wrong key", kind=AuthorKind.AI).pk)

    logged = everything_logged(caplog.records)
    reasons = " ".join(Message.objects.values_list("delivery_error", flat=True))
    answered = " ".join(response.content.decode(errors="replace") for response in responses)
    assert caplog.records  # the run did log (DEBUG included)
    for secret in platform.secret_values(connection) + platform.secret_values(other):
        assert secret not in logged
        assert secret not in reasons
        assert secret not in answered
