from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils.text import slugify
from guardian.shortcuts import assign_perm, remove_perm

from billing.plans import PlanCode
from orgs.events import publish_membership_changed
from orgs.models import Membership, Organization
from orgs.roles import ROLE_PERMISSIONS, OrgPermission, Role


def organization_create(*, name: str, plan: str = PlanCode.FREE, slug: str | None = None) -> Organization:
    return Organization.objects.create(name=name, slug=slug or slugify(name)[:80], plan=plan)


@transaction.atomic
def membership_set_role(*, organization: Organization, user, role: Role) -> Membership:
    """Add `user` to the org or change their role; the guardian permissions follow the role."""
    membership, _ = Membership.objects.update_or_create(
        organization=organization, user=user, defaults={"role": role}
    )
    granted = ROLE_PERMISSIONS[Role(role)]
    for permission in OrgPermission:
        if permission in granted:
            assign_perm(f"orgs.{permission}", user, organization)
        else:
            remove_perm(f"orgs.{permission}", user, organization)
    publish_membership_changed(user_id=user.pk, organization_id=organization.pk)
    return membership


@transaction.atomic
def membership_remove(*, organization: Organization, user) -> None:
    Membership.objects.filter(organization=organization, user=user).delete()
    for permission in OrgPermission:
        remove_perm(f"orgs.{permission}", user, organization)
    publish_membership_changed(user_id=user.pk, organization_id=organization.pk)


def user_create(*, username: str, email: str, password: str, first_name: str = "", **extra):
    return get_user_model().objects.create_user(
        username=username, email=email, password=password, first_name=first_name, **extra
    )
