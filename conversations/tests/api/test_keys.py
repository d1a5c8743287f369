import hashlib

import pytest
from django.urls import reverse
from django.utils import timezone

from conversations.tests.api.conftest import client_for
from conversations.tests.factories import AIAgentFactory, ConversationFactory
from channels_gateway.tests.factories import ChannelConnectionFactory
from orgs.models import ApiKey, ApiKeyRole, AuditAction, AuditEvent
from orgs.services import api_key_create, api_key_revoke
from orgs.tests.factories import OrganizationFactory, org_admin

pytestmark = pytest.mark.django_db


def test_key_is_stored_hashed_and_audited(organization):
    api_key, plaintext = api_key_create(organization=organization, name="Bot", role=ApiKeyRole.AGENT)
    assert plaintext.startswith(f"hk_{api_key.prefix}_") and len(api_key.prefix) == 8
    assert api_key.hashed_key == hashlib.sha256(plaintext.encode()).hexdigest()
    assert plaintext not in repr(ApiKey.objects.filter(pk=api_key.pk).values().first())
    event = AuditEvent.objects.get(action=AuditAction.API_KEY_CREATED)
    assert plaintext not in str(event.details) and event.details["prefix"] == api_key.prefix


def test_valid_key_authenticates_and_records_last_use(organization, agent_key):
    api_key, plaintext = agent_key
    assert client_for(plaintext).get(reverse("api:conversation-list")).status_code == 200
    api_key.refresh_from_db()
    assert api_key.last_used_at is not None


@pytest.mark.parametrize("header", ["Bearer hk_nope_nope", "Bearer something", "Basic abc", ""])
def test_unknown_or_missing_key_is_401(db, client, header):
    response = client.get(reverse("api:conversation-list"), HTTP_AUTHORIZATION=header)
    assert response.status_code == 401
    assert response.json()["error"]["code"] in {"invalid_api_key", "not_authenticated"}
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_revoked_key_is_401_and_audited(organization, agent_key):
    api_key, plaintext = agent_key
    api_key_revoke(api_key=api_key)
    response = client_for(plaintext).get(reverse("api:conversation-list"))
    assert response.status_code == 401
    assert response.json() == {"error": {"code": "invalid_api_key", "message": "Invalid API key."}}
    assert AuditEvent.objects.filter(action=AuditAction.API_KEY_REVOKED).count() == 1


def test_another_orgs_objects_are_404(api, agent_key):
    other_agent = AIAgentFactory(organization=OrganizationFactory())
    theirs = ConversationFactory(contact__connection=ChannelConnectionFactory(agent=other_agent))
    response = api.get(reverse("api:conversation-detail", args=[theirs.pk]))
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
    assert api.get(reverse("api:conversation-list")).json()["results"] == []


def test_admin_shows_the_key_once_and_never_the_hash(client, organization):
    admin_user = org_admin(organization)
    client.force_login(admin_user)
    response = client.post(reverse("admin:orgs_apikey_add"),
                           {"organization": organization.pk, "name": "Zapier", "role": "agent"}, follow=True)
    assert response.status_code == 200
    api_key = ApiKey.objects.get(name="Zapier")
    shown = [str(m) for m in response.context["messages"]]
    plaintext = next(m.split(": ")[-1] for m in shown if "will not be shown again" in m)
    assert hashlib.sha256(plaintext.encode()).hexdigest() == api_key.hashed_key
    assert api_key.created_by == admin_user
    listing = client.get(reverse("admin:orgs_apikey_changelist")).content.decode()
    assert f"hk_{api_key.prefix}_" in listing and api_key.hashed_key not in listing and plaintext not in listing
    detail = client.get(reverse("admin:orgs_apikey_change", args=[api_key.pk])).content.decode()
    assert api_key.hashed_key not in detail and plaintext not in detail
    client.post(reverse("admin:orgs_apikey_changelist"),
                {"action": "revoke", "_selected_action": [api_key.pk]}, follow=True)
    api_key.refresh_from_db()
    assert api_key.revoked_at is not None and api_key.revoked_at <= timezone.now()


def test_admin_does_not_show_other_orgs_keys(client, organization):
    client.force_login(org_admin(organization))
    theirs, _ = api_key_create(organization=OrganizationFactory(), name="Theirs")
    assert "Theirs" not in client.get(reverse("admin:orgs_apikey_changelist")).content.decode()
    assert client.get(reverse("admin:orgs_apikey_change", args=[theirs.pk])).status_code in (302, 404)
