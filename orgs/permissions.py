"""The permission check: every action on an org's data asks here."""

from guardian.shortcuts import get_user_perms

from handoff_site.errors import NotFoundError, PermissionDeniedError
from orgs.models import Organization
from orgs.roles import OrgPermission


def has_org_permission(user, organization: Organization, permission: OrgPermission) -> bool:
    if not (user and user.is_authenticated and user.is_active):
        return False
    # The user's own grants on this org, not `has_perm`: a Django superuser who runs the
    # installation is not thereby a member of every customer's organization.
    return str(permission) in get_user_perms(user, organization)


def authorize(user, organization: Organization, permission: OrgPermission) -> None:
    """Someone who cannot see the org's inbox learns nothing (404); a member whose role
    lacks the permission is told so (403)."""
    if not has_org_permission(user, organization, OrgPermission.VIEW_INBOX):
        raise NotFoundError("Not found.")
    if permission != OrgPermission.VIEW_INBOX and not has_org_permission(user, organization, permission):
        raise PermissionDeniedError(
            f"Your role in {organization.name} does not allow this.", permission=str(permission)
        )
