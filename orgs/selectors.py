from django.contrib.auth import get_user_model
from django.db.models import QuerySet
from guardian.shortcuts import get_objects_for_user

from handoff_site.errors import NotFoundError
from orgs.models import Membership, Organization
from orgs.roles import ROLE_PERMISSIONS, OrgPermission, Role


def memberships_of(user) -> QuerySet[Membership]:
    return Membership.objects.filter(user=user, organization__isnull=False).select_related("organization")


def organization_for_member(*, user, organization_id: int | None) -> Organization:
    """The org `user` works in: the one asked for, else their first. Not a member: 404."""
    memberships = memberships_of(user).order_by("created_at", "pk")
    if organization_id is not None:
        memberships = memberships.filter(organization_id=organization_id)
    membership = memberships.first()
    if membership is None:
        raise NotFoundError("No such organization.")
    return membership.organization


def roles_with(permission: OrgPermission) -> list[str]:
    return [role for role, perms in ROLE_PERMISSIONS.items() if permission in perms]


def teammates_who_may_accept(organization: Organization) -> QuerySet:
    return get_user_model().objects.filter(
        is_active=True,
        memberships__organization=organization,
        memberships__role__in=roles_with(OrgPermission.HANDLE_CONVERSATIONS),
    ).distinct()


def role_of(*, user, organization: Organization) -> Role | None:
    role = Membership.objects.filter(user=user, organization=organization).values_list("role", flat=True).first()
    return Role(role) if role else None


def organizations_configurable_by(user) -> QuerySet[Organization]:
    """The orgs whose settings `user` may change (admin or owner): the scope of Django admin for
    anyone but a superuser. The user's own grants, as in `orgs.permissions.has_org_permission`."""
    if not (user and user.is_authenticated and user.is_active):
        return Organization.objects.none()
    return get_objects_for_user(
        user, f"orgs.{OrgPermission.CONFIGURE_ORG}", klass=Organization,
        use_groups=False, with_superuser=False, accept_global_perms=False,
    )
