import json

import pytest
from django.core.management import call_command
from django.urls import reverse

from orgs.roles import Role
from orgs.services import membership_set_role
from orgs.tests.factories import OrganizationFactory, UserFactory, member

pytestmark = pytest.mark.django_db


def test_the_inbox_needs_a_login(client):
    response = client.get(reverse("inbox:home"))
    assert response.status_code == 302 and response["Location"].startswith(reverse("login"))


def test_a_member_gets_the_inbox_of_their_org(client):
    org = OrganizationFactory(name="Acme Support")
    client.force_login(member(org, Role.AGENT))
    response = client.get(reverse("inbox:home"))
    assert response.status_code == 200
    assert b"Acme Support" in response.content
    assert client.session["organization_id"] == org.pk


def test_someone_in_no_org_is_told_so(client):
    client.force_login(UserFactory())
    response = client.get(reverse("inbox:home"))
    assert response.status_code == 403
    assert b"not a member" in response.content.lower()


def test_switching_to_an_org_you_belong_to(client):
    first, second = OrganizationFactory(), OrganizationFactory(name="Second Co")
    user = member(first, Role.AGENT)
    membership_set_role(organization=second, user=user, role=Role.VIEWER)
    client.force_login(user)
    response = client.post(reverse("inbox:switch-organization", args=[second.pk]))
    assert response.status_code == 302
    assert b"Second Co" in client.get(reverse("inbox:home")).content


def test_switching_to_an_org_you_do_not_belong_to_is_a_404(client):
    client.force_login(member(OrganizationFactory(), Role.OWNER))
    response = client.post(reverse("inbox:switch-organization", args=[OrganizationFactory().pk]))
    assert response.status_code == 404


def test_logging_in_leads_to_the_inbox(client):
    member(OrganizationFactory(), Role.AGENT, username="ana")
    response = client.post(reverse("login"), {"username": "ana", "password": "correct horse battery staple"})
    assert response.status_code == 302 and response["Location"] == reverse("inbox:home")


def test_the_widget_script_is_served_for_any_site(client):
    response = client.get("/widget.js")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/javascript")
    assert b"/ws/widget/" in b"".join(response.streaming_content)


def test_seed_demo_creates_a_working_demo(client, capsys):
    call_command("seed_demo", "--json", "--force")
    report = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert {user["username"] for user in report["users"]} == {"admin", "ana", "ben"}
    assert report["agent"]["handoff_enabled"] is True
    ana = next(user for user in report["users"] if user["username"] == "ana")
    assert client.login(username="ana", password=ana["password"])
    assert client.get(reverse("inbox:home")).status_code == 200
    demo = client.get(reverse("demo"))
    assert demo.status_code == 200 and report["widget"]["key"].encode() in demo.content

    call_command("seed_demo", "--json", "--force")  # running it again refreshes, never duplicates
    again = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert again["widget"]["key"] == report["widget"]["key"]


def test_seed_demo_refuses_a_production_database(settings):
    from django.core.management.base import CommandError

    settings.DEBUG, settings.EMBEDDED = False, False
    with pytest.raises(CommandError, match="--force"):
        call_command("seed_demo")
