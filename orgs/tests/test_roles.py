import pytest

from orgs.permissions import authorize, has_org_permission
from orgs.roles import ROLE_PERMISSIONS, OrgPermission, Role
from orgs.selectors import teammates_who_may_accept
from orgs.services import membership_remove, membership_set_role
from orgs.tests.factories import OrganizationFactory, member
from handoff_site.errors import NotFoundError, PermissionDeniedError

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("role", list(Role))
def test_each_role_has_exactly_its_permissions_on_its_own_org(role):
    org, other_org = OrganizationFactory(), OrganizationFactory()
    user = member(org, role)
    for permission in OrgPermission:
        assert has_org_permission(user, org, permission) == (permission in ROLE_PERMISSIONS[role])
        assert not has_org_permission(user, other_org, permission)


def test_changing_a_role_takes_effect_at_once():
    org = OrganizationFactory()
    user = member(org, Role.AGENT)
    membership_set_role(organization=org, user=user, role=Role.VIEWER)
    user = type(user).objects.get(pk=user.pk)  # a fresh permission cache, as on the next request
    assert not has_org_permission(user, org, OrgPermission.HANDLE_CONVERSATIONS)
    assert has_org_permission(user, org, OrgPermission.VIEW_INBOX)


def test_a_removed_member_has_nothing_left():
    org = OrganizationFactory()
    user = member(org, Role.OWNER)
    membership_remove(organization=org, user=user)
    user = type(user).objects.get(pk=user.pk)
    assert not any(has_org_permission(user, org, permission) for permission in OrgPermission)


def test_outsiders_get_not_found_and_members_get_a_reason():
    org = OrganizationFactory(name="Acme")
    viewer, outsider = member(org, Role.VIEWER), member(OrganizationFactory(), Role.OWNER)
    with pytest.raises(NotFoundError):
        authorize(outsider, org, OrgPermission.VIEW_INBOX)
    with pytest.raises(PermissionDeniedError) as refused:
        authorize(viewer, org, OrgPermission.HANDLE_CONVERSATIONS)
    assert "Acme" in refused.value.message


def test_the_teammates_who_may_accept_are_agents_admins_and_owners():
    org = OrganizationFactory()
    accepting = {member(org, role).pk for role in (Role.AGENT, Role.ADMIN, Role.OWNER)}
    member(org, Role.VIEWER)
    member(OrganizationFactory(), Role.AGENT)
    assert set(teammates_who_may_accept(org).values_list("pk", flat=True)) == accepting


def test_a_superuser_is_not_a_member_of_every_organization():
    from orgs.tests.factories import UserFactory

    organization = OrganizationFactory()
    operator = UserFactory(is_superuser=True, is_staff=True)
    assert not has_org_permission(operator, organization, OrgPermission.VIEW_INBOX)
    with pytest.raises(NotFoundError):
        authorize(operator, organization, OrgPermission.HANDLE_CONVERSATIONS)


@pytest.mark.parametrize("plan", ["free", "starter"])
def test_seats_stop_exactly_at_the_plans_number_and_role_changes_need_none(plan):
    from billing.plans import PLANS
    from handoff_site.errors import ConflictError
    from orgs.tests.factories import UserFactory

    org = OrganizationFactory(plan=plan)
    members = [member(org, Role.AGENT) for _ in range(PLANS[plan].seats)]
    with pytest.raises(ConflictError) as refused:
        membership_set_role(organization=org, user=UserFactory(), role=Role.AGENT)
    assert refused.value.code == "seat_limit" and str(PLANS[plan].seats) in refused.value.message
    membership_set_role(organization=org, user=members[0], role=Role.ADMIN)  # no new seat
    membership_remove(organization=org, user=members[1])
    membership_set_role(organization=org, user=UserFactory(), role=Role.AGENT)  # a seat came free
