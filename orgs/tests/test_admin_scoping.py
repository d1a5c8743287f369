"""Django admin for an org's admins: their org's rows only, read and written; nobody else's."""

import pytest
from django.urls import reverse

from channels_gateway.models import ChannelConnection, Platform
from channels_gateway.tests.factories import ChannelConnectionFactory
from conversations.models import AIAgent
from conversations.tests.factories import AIAgentFactory
from inbox.models import CannedReply
from orgs.models import AuditAction, AuditEvent, Membership, Organization
from orgs.permissions import has_org_permission
from orgs.roles import OrgPermission, Role
from orgs.services import audit_record
from orgs.tests.factories import (
    OrganizationFactory,
    UserFactory,
    member,
    operator,
    org_admin,
)

pytestmark = pytest.mark.django_db

SCOPED = {
    "orgs_organization": lambda org: org,
    "orgs_membership": lambda org: Membership.objects.filter(organization=org).first(),
    "conversations_aiagent": lambda org: AIAgent.objects.filter(organization=org).first(),
    "channels_gateway_channelconnection": lambda org: ChannelConnection.objects.filter(organization=org).first(),
    "inbox_cannedreply": lambda org: CannedReply.objects.filter(organization=org).first(),
    "orgs_auditevent": lambda org: AuditEvent.objects.filter(organization=org).first(),
}


def populate(org, label):
    agent = AIAgentFactory(organization=org, name=f"{label} assistant")
    ChannelConnectionFactory(agent=agent, name=f"{label} website")
    CannedReply.objects.create(organization=org, title=f"{label} greeting", text="Hello!")
    member(org, Role.AGENT, username=f"{label.lower()}-agent")
    audit_record(organization=org, actor=None, action=AuditAction.PLAN_CHANGED, target=f"{label} audit target")
    return agent


@pytest.fixture
def org_a():
    return OrganizationFactory(name="Alpha Org", slug="alpha")


@pytest.fixture
def org_b():
    return OrganizationFactory(name="Bravo Org", slug="bravo")


@pytest.fixture
def agent_a(org_a):
    return populate(org_a, "Alpha")


@pytest.fixture
def agent_b(org_b):
    return populate(org_b, "Bravo")


@pytest.fixture
def admin_of_a(org_a, agent_a, agent_b):
    return org_admin(org_a, username="alpha-admin")


@pytest.fixture
def as_admin_of_a(client, admin_of_a):
    client.force_login(admin_of_a)
    return client


@pytest.mark.parametrize("model", SCOPED)
def test_every_changelist_lists_only_the_admins_own_org(as_admin_of_a, model):
    response = as_admin_of_a.get(reverse(f"admin:{model}_changelist"))
    html = response.content.decode()
    assert response.status_code == 200
    assert "Alpha" in html or "alpha" in html
    assert "Bravo" not in html and "bravo" not in html


@pytest.mark.parametrize("model", SCOPED)
def test_the_own_orgs_object_opens_and_another_orgs_does_not_exist(as_admin_of_a, org_a, org_b, model):
    own, other = SCOPED[model](org_a), SCOPED[model](org_b)
    assert as_admin_of_a.get(reverse(f"admin:{model}_change", args=[own.pk])).status_code == 200
    response = as_admin_of_a.get(reverse(f"admin:{model}_change", args=[other.pk]), follow=True)
    assert "doesn’t exist" in response.content.decode()
    assert response.redirect_chain and response.redirect_chain[-1][0] == reverse("admin:index")
    for view in ("delete", "history"):
        response = as_admin_of_a.get(reverse(f"admin:{model}_{view}", args=[other.pk]))
        assert response.status_code in (302, 403, 404)


def test_the_admin_index_shows_the_scoped_models_and_nothing_else(as_admin_of_a):
    html = as_admin_of_a.get(reverse("admin:index")).content.decode()
    for model in SCOPED:
        app_label, model_name = model.split("_", 1) if not model.startswith("channels_gateway") else (
            "channels_gateway", model.removeprefix("channels_gateway_"))
        assert reverse(f"admin:{app_label}_{model_name}_changelist") in html
    assert reverse("admin:auth_user_changelist") not in html
    assert reverse("admin:conversations_conversation_changelist") not in html
    assert as_admin_of_a.get(reverse("admin:auth_user_changelist")).status_code == 403


def test_the_organization_choices_offer_only_the_own_org(as_admin_of_a):
    html = as_admin_of_a.get(reverse("admin:inbox_cannedreply_add")).content.decode()
    assert "Alpha Org" in html and "Bravo Org" not in html
    html = as_admin_of_a.get(reverse("admin:channels_gateway_channelconnection_add")).content.decode()
    assert "Alpha assistant" in html and "Bravo assistant" not in html


def test_adding_a_row_to_another_org_is_refused(as_admin_of_a, org_b):
    response = as_admin_of_a.post(reverse("admin:inbox_cannedreply_add"),
                                  {"organization": org_b.pk, "title": "Sneaky", "text": "Hi"})
    assert response.status_code == 200
    assert "Select a valid choice" in response.content.decode()
    assert not CannedReply.objects.filter(title="Sneaky").exists()


def test_a_connection_cannot_pick_another_orgs_agent(as_admin_of_a, org_a, agent_b):
    response = as_admin_of_a.post(reverse("admin:channels_gateway_channelconnection_add"), {
        "organization": org_a.pk, "agent": agent_b.pk, "platform": Platform.WIDGET, "name": "Sneaky",
        "is_active": "on", "config": "{}",
    })
    assert response.status_code == 200
    assert "Select a valid choice" in response.content.decode()
    assert not ChannelConnection.objects.filter(name="Sneaky").exists()

    connection = ChannelConnection.objects.get(organization=org_a)
    response = as_admin_of_a.post(
        reverse("admin:channels_gateway_channelconnection_change", args=[connection.pk]),
        {"agent": agent_b.pk, "name": "Moved", "is_active": "on", "config": "{}"},
    )
    assert response.status_code == 200
    connection.refresh_from_db()
    assert connection.agent.organization_id == org_a.pk and connection.name != "Moved"


def test_moving_an_object_to_another_org_changes_nothing(as_admin_of_a, org_a, org_b, agent_a):
    reply = CannedReply.objects.get(organization=org_a)
    as_admin_of_a.post(reverse("admin:inbox_cannedreply_change", args=[reply.pk]),
                       {"organization": org_b.pk, "title": reply.title, "text": "Changed"})
    reply.refresh_from_db()
    assert reply.organization_id == org_a.pk  # the organization is not editable once set

    as_admin_of_a.post(reverse("admin:conversations_aiagent_change", args=[agent_a.pk]),
                       {"organization": org_b.pk, "name": "Moved"})
    agent_a.refresh_from_db()
    assert agent_a.organization_id == org_a.pk


def test_posting_to_another_orgs_object_writes_nothing(as_admin_of_a, org_b):
    reply = CannedReply.objects.get(organization=org_b)
    response = as_admin_of_a.post(reverse("admin:inbox_cannedreply_change", args=[reply.pk]),
                                  {"organization": org_b.pk, "title": "Hijacked", "text": "Hijacked"})
    assert response.status_code in (302, 404)
    reply.refresh_from_db()
    assert reply.title == "Bravo greeting"
    response = as_admin_of_a.post(reverse("admin:inbox_cannedreply_delete", args=[reply.pk]), {"post": "yes"})
    assert CannedReply.objects.filter(pk=reply.pk).exists()


def test_the_bulk_delete_action_ignores_another_orgs_ids(as_admin_of_a, org_a, org_b):
    own, other = CannedReply.objects.get(organization=org_a), CannedReply.objects.get(organization=org_b)
    as_admin_of_a.post(reverse("admin:inbox_cannedreply_changelist"),
                       {"action": "delete_selected", "_selected_action": [own.pk, other.pk], "post": "yes"})
    assert not CannedReply.objects.filter(pk=own.pk).exists()
    assert CannedReply.objects.filter(pk=other.pk).exists()


@pytest.mark.parametrize("role", [Role.AGENT, Role.VIEWER])
@pytest.mark.parametrize("is_staff", [True, False])
def test_agents_and_viewers_get_no_admin(client, org_a, agent_a, role, is_staff):
    user = member(org_a, role)
    type(user).objects.filter(pk=user.pk).update(is_staff=is_staff)
    client.force_login(user)
    index = client.get(reverse("admin:index"))
    if is_staff:
        html = index.content.decode()
        assert index.status_code == 200 and "/admin/orgs/" not in html and "/admin/inbox/" not in html
    else:
        assert index.status_code == 302 and "/admin/login/" in index["Location"]
    for model in SCOPED:
        response = client.get(reverse(f"admin:{model}_change", args=[SCOPED[model](org_a).pk]))
        assert response.status_code in (302, 403)
        assert response.status_code == 403 or "/admin/login/" in response["Location"]


def test_admins_and_owners_are_staff_and_lose_it_with_the_role(org_a):
    user = org_admin(org_a)
    assert user.is_staff
    from orgs.services import membership_set_role

    membership_set_role(organization=org_a, user=user, role=Role.AGENT)
    assert not type(user).objects.get(pk=user.pk).is_staff


def test_demotion_keeps_the_staff_flag_of_an_operator(org_a):
    user = operator()
    from orgs.services import membership_remove, membership_set_role

    membership_set_role(organization=org_a, user=user, role=Role.ADMIN)
    membership_remove(organization=org_a, user=user)
    assert type(user).objects.get(pk=user.pk).is_staff


def test_the_owner_can_change_the_plan_and_the_admin_cannot(client, org_a, agent_a):
    org_a.plan = "pro"
    org_a.save()
    url = reverse("admin:orgs_organization_change", args=[org_a.pk])
    form = {"name": "Alpha Org", "plan": "free",
            "memberships-TOTAL_FORMS": "0", "memberships-INITIAL_FORMS": "0"}

    client.force_login(org_admin(org_a, Role.ADMIN))
    html = client.get(url).content.decode()
    assert 'name="plan"' not in html
    client.post(url, form)
    org_a.refresh_from_db()
    assert org_a.plan == "pro"

    client.force_login(org_admin(org_a, Role.OWNER))
    assert 'name="plan"' in client.get(url).content.decode()
    response = client.post(url, form)
    assert response.status_code == 302, response.content.decode()[:3000]
    org_a.refresh_from_db()
    assert org_a.plan == "free"
    event = AuditEvent.objects.get(organization=org_a, action=AuditAction.PLAN_CHANGED, target="Alpha Org")
    assert event.details == {"from": "pro", "to": "free"}


def test_org_admins_cannot_create_or_delete_organizations(as_admin_of_a, org_a):
    assert as_admin_of_a.get(reverse("admin:orgs_organization_add")).status_code == 403
    as_admin_of_a.post(reverse("admin:orgs_organization_delete", args=[org_a.pk]), {"post": "yes"})
    assert Organization.objects.filter(pk=org_a.pk).exists()


def test_a_member_added_in_admin_gets_the_permissions_and_opens_the_inbox(
    as_admin_of_a, client, org_a, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = as_admin_of_a.post(reverse("admin:orgs_membership_add"),
                                      {"organization": org_a.pk, "email": "new@example.com", "role": Role.AGENT})
    assert response.status_code == 302, response.content.decode()[:3000]
    newcomer = Membership.objects.get(organization=org_a, user__email="new@example.com").user
    assert has_org_permission(newcomer, org_a, OrgPermission.HANDLE_CONVERSATIONS)
    client.force_login(newcomer)
    assert client.get(reverse("inbox:home")).status_code == 200


def test_changing_and_removing_a_member_goes_through_the_services(as_admin_of_a, org_a):
    colleague = Membership.objects.get(organization=org_a, role=Role.AGENT)
    user = colleague.user
    url = reverse("admin:orgs_membership_change", args=[colleague.pk])
    assert as_admin_of_a.post(url, {"role": Role.VIEWER}).status_code == 302
    user = type(user).objects.get(pk=user.pk)
    assert has_org_permission(user, org_a, OrgPermission.VIEW_INBOX)
    assert not has_org_permission(user, org_a, OrgPermission.HANDLE_CONVERSATIONS)

    as_admin_of_a.post(reverse("admin:orgs_membership_delete", args=[colleague.pk]), {"post": "yes"})
    user = type(user).objects.get(pk=user.pk)
    assert not Membership.objects.filter(pk=colleague.pk).exists()
    assert not has_org_permission(user, org_a, OrgPermission.VIEW_INBOX)


def test_an_admin_cannot_make_an_owner_or_touch_one(as_admin_of_a, org_a, admin_of_a):
    colleague = Membership.objects.get(organization=org_a, role=Role.AGENT)
    response = as_admin_of_a.post(reverse("admin:orgs_membership_change", args=[colleague.pk]), {"role": Role.OWNER})
    assert response.status_code == 200
    colleague.refresh_from_db()
    assert colleague.role == Role.AGENT
    own = Membership.objects.get(user=admin_of_a)
    as_admin_of_a.post(reverse("admin:orgs_membership_change", args=[own.pk]), {"role": Role.OWNER})
    own.refresh_from_db()
    assert own.role == Role.ADMIN

    owner = member(org_a, Role.OWNER)
    owner_membership = Membership.objects.get(user=owner)
    as_admin_of_a.post(reverse("admin:orgs_membership_change", args=[owner_membership.pk]), {"role": Role.VIEWER})
    as_admin_of_a.post(reverse("admin:orgs_membership_delete", args=[owner_membership.pk]), {"post": "yes"})
    owner_membership.refresh_from_db()
    assert owner_membership.role == Role.OWNER


def test_the_last_owner_stays(client, org_a):
    owner = org_admin(org_a, Role.OWNER)
    client.force_login(owner)
    own = Membership.objects.get(user=owner)
    response = client.post(reverse("admin:orgs_membership_change", args=[own.pk]), {"role": Role.ADMIN})
    assert "at least one owner" in response.content.decode()
    client.post(reverse("admin:orgs_membership_delete", args=[own.pk]), {"post": "yes"})
    own.refresh_from_db()
    assert own.role == Role.OWNER


def test_the_organization_page_lists_members_without_raw_writes(as_admin_of_a, org_a):
    html = as_admin_of_a.get(reverse("admin:orgs_organization_change", args=[org_a.pk])).content.decode()
    assert "alpha-agent" in html
    assert 'name="memberships-0-role"' not in html


def test_a_superuser_sees_every_org(client, org_a, org_b, agent_a, agent_b):
    client.force_login(operator())
    for model in SCOPED:
        html = client.get(reverse(f"admin:{model}_changelist")).content.decode()
        assert ("Alpha" in html or "alpha" in html) and ("Bravo" in html or "bravo" in html), model
    assert client.get(reverse("admin:orgs_organization_add")).status_code == 200


def test_an_admin_of_two_orgs_sees_both_but_cannot_mix_them(client, org_a, org_b, agent_a, agent_b):
    user = org_admin(org_a)
    from orgs.services import membership_set_role

    membership_set_role(organization=org_b, user=user, role=Role.ADMIN)
    client.force_login(user)
    html = client.get(reverse("admin:inbox_cannedreply_changelist")).content.decode()
    assert "Alpha greeting" in html and "Bravo greeting" in html
    response = client.post(reverse("admin:channels_gateway_channelconnection_add"), {
        "organization": org_a.pk, "agent": agent_b.pk, "platform": Platform.WIDGET, "name": "Mixed",
        "is_active": "on", "config": "{}",
    })
    assert "belongs to another organization" in response.content.decode()
    assert not ChannelConnection.objects.filter(name="Mixed").exists()


def test_a_staff_user_of_no_org_sees_nothing(client, agent_a):
    client.force_login(UserFactory(is_staff=True))
    assert client.get(reverse("admin:inbox_cannedreply_changelist")).status_code == 403


@pytest.mark.parametrize("model", ["orgs_membership", "conversations_aiagent", "channels_gateway_channelconnection",
                                   "inbox_cannedreply"])
def test_the_add_pages_open_for_an_org_admin(as_admin_of_a, model):
    response = as_admin_of_a.get(reverse(f"admin:{model}_add"))
    assert response.status_code == 200
    assert "Bravo" not in response.content.decode()


def test_an_admin_sees_an_owners_membership_read_only(as_admin_of_a, org_a):
    owner = member(org_a, Role.OWNER, username="the-owner")
    page = as_admin_of_a.get(reverse("admin:orgs_membership_change", args=[Membership.objects.get(user=owner).pk]))
    assert page.status_code == 200
    assert 'name="role"' not in page.content.decode()
