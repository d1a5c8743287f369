"""Invite by email from Django admin: an account if new, the membership, and a set-password link."""

import re

import pytest
from django.contrib.auth import get_user_model
from django.core import mail
from django.urls import reverse

from orgs.models import AuditAction, AuditEvent, Membership
from orgs.permissions import has_org_permission
from orgs.roles import OrgPermission, Role
from orgs.tests.factories import OrganizationFactory, UserFactory, member, org_admin

pytestmark = pytest.mark.django_db

NEW_PASSWORD = "a-long-new-passphrase-42"


@pytest.fixture
def org():
    return OrganizationFactory(name="Alpha Org")


@pytest.fixture
def boss(org):
    return org_admin(org, Role.ADMIN, first_name="Bo", last_name="Boss")


@pytest.fixture
def as_boss(client, boss):
    client.force_login(boss)
    return client


def invite(client, org, capture, email="new.person@example.com", role=Role.AGENT):
    with capture(execute=True):
        return client.post(reverse("admin:orgs_membership_add"),
                           {"organization": org.pk, "email": email, "role": role})


def link_in(message) -> str:
    match = re.search(r"https?://\S+/accounts/reset/\S+", message.body)
    assert match, message.body
    return re.sub(r"^https?://[^/]+", "", match.group(0))


def test_inviting_a_new_person_makes_an_account_and_mails_a_working_link(
    as_boss, client, org, django_capture_on_commit_callbacks
):
    response = invite(as_boss, org, django_capture_on_commit_callbacks, email="New.Person@Example.com")
    assert response.status_code == 302, response.content.decode()[:3000]

    user = get_user_model().objects.get(email="new.person@example.com")
    assert user.username == "new.person@example.com" and not user.has_usable_password()
    assert Membership.objects.get(user=user, organization=org).role == Role.AGENT
    assert has_org_permission(user, org, OrgPermission.HANDLE_CONVERSATIONS)

    message, = mail.outbox
    assert message.to == ["new.person@example.com"]
    assert "Alpha Org" in message.subject and "Bo Boss" in message.body

    client.logout()
    page = client.get(link_in(message), follow=True)
    assert page.status_code == 200 and "Choose a password" in page.content.decode()
    set_password_url = page.redirect_chain[-1][0]
    done = client.post(set_password_url, {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
                       follow=True)
    assert "Your password is set" in done.content.decode()

    assert client.login(username="new.person@example.com", password=NEW_PASSWORD)
    assert client.get(reverse("inbox:home")).status_code == 200

    # The link works once.
    client.logout()
    again = client.get(link_in(message), follow=True)
    assert "no longer works" in again.content.decode()


def test_inviting_an_existing_account_adds_it_and_sends_no_password_link(
    as_boss, org, django_capture_on_commit_callbacks
):
    existing = UserFactory(username="carla", email="carla@example.com")
    response = invite(as_boss, org, django_capture_on_commit_callbacks, email="CARLA@example.com", role=Role.VIEWER)
    assert response.status_code == 302
    assert get_user_model().objects.filter(email__iexact="carla@example.com").count() == 1
    assert Membership.objects.get(user=existing, organization=org).role == Role.VIEWER
    message, = mail.outbox
    assert "/accounts/reset/" not in message.body and "/accounts/login/" in message.body and "carla" in message.body


def test_an_existing_member_is_not_invited_twice(as_boss, org, django_capture_on_commit_callbacks):
    member(org, Role.AGENT, email="dup@example.com")
    response = invite(as_boss, org, django_capture_on_commit_callbacks, email="dup@example.com", role=Role.ADMIN)
    assert response.status_code == 200 and "Already a member" in response.content.decode()
    assert not mail.outbox
    assert Membership.objects.get(user__email="dup@example.com").role == Role.AGENT


def test_an_admin_cannot_invite_an_owner_or_into_another_org(as_boss, org, django_capture_on_commit_callbacks):
    response = invite(as_boss, org, django_capture_on_commit_callbacks, role=Role.OWNER)
    assert response.status_code == 200
    other = OrganizationFactory(name="Bravo Org")
    response = invite(as_boss, other, django_capture_on_commit_callbacks)
    assert response.status_code == 200 and "Select a valid choice" in response.content.decode()
    assert not get_user_model().objects.filter(email="new.person@example.com").exists()
    assert not mail.outbox


def test_an_owner_can_invite_an_owner(client, org, django_capture_on_commit_callbacks):
    client.force_login(org_admin(org, Role.OWNER))
    assert invite(client, org, django_capture_on_commit_callbacks, role=Role.OWNER).status_code == 302
    assert Membership.objects.get(user__email="new.person@example.com").role == Role.OWNER
    assert get_user_model().objects.get(email="new.person@example.com").is_staff


def test_the_invite_is_audited(as_boss, boss, org, django_capture_on_commit_callbacks):
    invite(as_boss, org, django_capture_on_commit_callbacks)
    invited, = AuditEvent.objects.filter(organization=org, action=AuditAction.MEMBER_INVITED)
    assert invited.actor == boss and invited.target == "new.person@example.com"
    assert invited.details == {"role": "agent", "new_account": True}
    assert AuditEvent.objects.filter(organization=org, action=AuditAction.MEMBER_ADDED,
                                     target="new.person@example.com", actor=boss).exists()


def test_a_new_link_can_be_sent_to_members_who_have_not_set_a_password(
    as_boss, org, django_capture_on_commit_callbacks
):
    invite(as_boss, org, django_capture_on_commit_callbacks)
    member(org, Role.AGENT, email="has-password@example.com")
    mail.outbox.clear()
    ids = list(Membership.objects.filter(organization=org).values_list("pk", flat=True))
    with django_capture_on_commit_callbacks(execute=True):
        as_boss.post(reverse("admin:orgs_membership_changelist"),
                     {"action": "resend_invitation", "_selected_action": ids})
    message, = mail.outbox
    assert message.to == ["new.person@example.com"] and "/accounts/reset/" in message.body


def test_no_invitation_beyond_the_plans_seats(as_boss, org, django_capture_on_commit_callbacks):
    from billing.plans import PLANS

    org.plan = "free"
    org.save()
    while Membership.objects.filter(organization=org).count() < PLANS["free"].seats:
        member(org, Role.AGENT)
    response = invite(as_boss, org, django_capture_on_commit_callbacks)
    assert "The free plan includes 2 seats; all are taken. Remove a member, or change the plan." in \
        response.content.decode()
    assert not mail.outbox and not Membership.objects.filter(user__email="new.person@example.com").exists()
