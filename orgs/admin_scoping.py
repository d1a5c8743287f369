"""Django admin for org admins: each scoped ModelAdmin shows and writes only their orgs' rows.

A superuser runs the installation and sees everything (Django's own permissions). Anyone else
is scoped by org role, never by Django model permissions: a staff user who is admin or owner
of an org (`configure_org`) sees that org's rows and nothing else; everybody else sees nothing.
Another org's object answers "doesn't exist" (it is not in `get_queryset`), a choice of
another org's organization or AI agent is not among the form's choices, and `save_model`
refuses to write a row whose organization the user cannot configure even if a form let one by.
"""

from django.contrib import admin
from django.core.exceptions import FieldDoesNotExist, PermissionDenied
from django.db import models

from orgs.models import Organization
from orgs.selectors import organizations_configurable_by

_CACHE_ATTR = "_orgs_configurable_ids"


def configurable_org_ids(request) -> frozenset[int]:
    """The ids of the orgs the request's user may configure, once per request."""
    ids = getattr(request, _CACHE_ATTR, None)
    if ids is None:
        ids = frozenset(organizations_configurable_by(request.user).values_list("pk", flat=True))
        setattr(request, _CACHE_ATTR, ids)
    return ids


def is_operator(request) -> bool:
    user = request.user
    return bool(user.is_active and user.is_superuser)


class OrgScopedAdmin:
    """Mix in before `admin.ModelAdmin`. `org_lookup` is the path from the model to its
    Organization ("organization"; "pk" for Organization itself)."""

    org_lookup = "organization"

    # --- where an object belongs ----------------------------------------------------------

    def organization_id_of(self, obj) -> int | None:
        if self.org_lookup == "pk":
            return obj.pk
        return getattr(obj, f"{self.org_lookup}_id", None)

    def may_configure(self, request, obj=None) -> bool:
        ids = configurable_org_ids(request)
        if obj is None:
            return bool(ids)
        return self.organization_id_of(obj) in ids

    # --- what the user sees ---------------------------------------------------------------

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        if is_operator(request):
            return queryset
        return queryset.filter(**{f"{self.org_lookup}__in": configurable_org_ids(request)})

    def get_readonly_fields(self, request, obj=None):
        readonly = list(super().get_readonly_fields(request, obj))
        if obj is not None and not is_operator(request) and self.org_lookup == "organization":
            # Rows stay in their org: moving one would strand what refers to it.
            readonly += [] if "organization" in readonly else ["organization"]
        return readonly

    def get_list_filter(self, request):
        filters = list(super().get_list_filter(request))
        if is_operator(request):
            return filters
        # The plain filter lists every organization in the installation.
        return [
            (item, admin.RelatedOnlyFieldListFilter) if item == "organization" else item for item in filters
        ]

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if not is_operator(request):
            ids = configurable_org_ids(request)
            related = db_field.remote_field.model
            if related is Organization:
                kwargs["queryset"] = Organization.objects.filter(pk__in=ids)
            elif _has_organization(related):
                kwargs["queryset"] = related._default_manager.filter(organization__in=ids)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    # --- what the user may do -------------------------------------------------------------

    def has_module_permission(self, request):
        if is_operator(request):
            return super().has_module_permission(request)
        return self.may_configure(request)

    def has_view_permission(self, request, obj=None):
        if is_operator(request):
            return super().has_view_permission(request, obj)
        return self.may_configure(request, obj)

    def has_change_permission(self, request, obj=None):
        if is_operator(request):
            return super().has_change_permission(request, obj)
        return self.may_configure(request, obj)

    def has_add_permission(self, request, *args):
        if is_operator(request):
            return super().has_add_permission(request, *args)
        return self.may_configure(request)

    def has_delete_permission(self, request, obj=None):
        if is_operator(request):
            return super().has_delete_permission(request, obj)
        return self.may_configure(request, obj)

    # --- the last line: never write into someone else's org ------------------------------

    def check_writable(self, request, obj) -> None:
        if is_operator(request):
            return
        if not self.may_configure(request, obj):
            raise PermissionDenied("You cannot configure this organization.")
        organization_id = self.organization_id_of(obj)
        for field in obj._meta.concrete_fields:
            if isinstance(field, models.ForeignKey) and _has_organization(field.remote_field.model):
                related = getattr(obj, field.name, None)
                if related is not None and related.organization_id != organization_id:
                    raise PermissionDenied(f"This {field.verbose_name} belongs to another organization.")

    def save_model(self, request, obj, form, change):
        self.check_writable(request, obj)
        super().save_model(request, obj, form, change)

    def delete_model(self, request, obj):
        self.check_writable(request, obj)
        super().delete_model(request, obj)

    def delete_queryset(self, request, queryset):
        # Only ever the user's own rows, whatever ids were posted.
        super().delete_queryset(request, queryset & self.get_queryset(request))


def _has_organization(model) -> bool:
    try:
        field = model._meta.get_field("organization")
    except FieldDoesNotExist:
        return False
    return isinstance(field, models.ForeignKey) and field.remote_field.model is Organization
