"""Organizations, members and the audit log in Django admin, scoped for org admins.

Members are written only through `orgs.services` (`membership_set_role`, `membership_remove`,
the invite in `orgs.invites`): the guardian permissions and the audit log follow every change.
"""

from django import forms
from django.contrib import admin, messages
from django.db import transaction

from orgs.admin_scoping import OrgScopedAdmin, is_operator
from orgs.invites import invite_email_send_on_commit, member_invite, user_for_email
from orgs.models import ApiKey, AuditAction, AuditEvent, Membership, Organization
from orgs.permissions import has_org_permission
from orgs.roles import OrgPermission, Role
from orgs.services import (
    api_key_create,
    api_key_revoke,
    audit_record,
    membership_remove,
    membership_set_role,
    seat_available,
)


def may_manage_owners(request, organization) -> bool:
    """Making, changing or removing an owner takes an owner (billing), or the operator."""
    return is_operator(request) or has_org_permission(request.user, organization, OrgPermission.MANAGE_BILLING)


def _is_last_owner(membership: Membership) -> bool:
    return (
        membership.pk is not None
        and Membership.objects.get(pk=membership.pk).role == Role.OWNER
        and not Membership.objects.filter(organization_id=membership.organization_id, role=Role.OWNER)
        .exclude(pk=membership.pk).exists()
    )


class MembershipInline(admin.TabularInline):
    """Who is in the org, read-only: members are added, changed and removed in Members."""

    model = Membership
    extra = 0
    can_delete = False
    fields = ["member", "email", "role", "created_at"]
    readonly_fields = fields
    show_change_link = True
    verbose_name_plural = "members (invite, change roles and remove them under Members)"

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_view_permission(self, request, obj=None):
        return True  # the parent Organization admin decides who sees the org at all

    @admin.display(description="User")
    def member(self, membership):
        return membership.user.get_username()

    @admin.display(description="Email")
    def email(self, membership):
        return membership.user.email


@admin.register(Organization)
class OrganizationAdmin(OrgScopedAdmin, admin.ModelAdmin):
    org_lookup = "pk"
    list_display = ["name", "slug", "plan", "created_at"]
    search_fields = ["name", "slug"]
    inlines = [MembershipInline]

    def get_readonly_fields(self, request, obj=None):
        if is_operator(request):
            return []
        readonly = ["slug"]
        if obj is None or not has_org_permission(request.user, obj, OrgPermission.MANAGE_BILLING):
            readonly.append("plan")
        return readonly

    def has_add_permission(self, request, *args):
        return is_operator(request) and super().has_add_permission(request, *args)

    def has_delete_permission(self, request, obj=None):
        return is_operator(request) and super().has_delete_permission(request, obj)

    def save_model(self, request, obj, form, change):
        with transaction.atomic():
            super().save_model(request, obj, form, change)
            if change and "plan" in form.changed_data:
                audit_record(organization=obj, actor=request.user, action=AuditAction.PLAN_CHANGED,
                             target=obj.name, details={"from": form.initial.get("plan"), "to": obj.plan})


class _RequestBoundForm(forms.ModelForm):
    request = None  # set by MembershipAdmin.get_form

    def limit_roles(self, field_name="role"):
        if field_name not in self.fields:  # a view-only page
            return
        if not is_operator(self.request) and not Membership.objects.filter(
            user=self.request.user, role=Role.OWNER
        ).exists():
            field = self.fields[field_name]
            field.choices = [(value, label) for value, label in field.choices if value != Role.OWNER]

    def check_owner_role(self, organization, role):
        if role == Role.OWNER and organization and not may_manage_owners(self.request, organization):
            self.add_error("role", f"Only an owner of {organization.name} can make someone an owner.")


class MemberInviteForm(_RequestBoundForm):
    email = forms.EmailField(help_text="A new account is made if there is none with this email; "
                                       "they get an email with a link to set their password.")

    class Meta:
        model = Membership
        fields = ["organization", "role"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.limit_roles()

    def clean(self):
        cleaned = super().clean()
        organization, email = cleaned.get("organization"), cleaned.get("email")
        self.check_owner_role(organization, cleaned.get("role"))
        if organization and email:
            existing = user_for_email(email)
            if existing and Membership.objects.filter(organization=organization, user=existing).exists():
                self.add_error("email", f"Already a member of {organization.name}: change their role instead.")
                return cleaned
        if organization:
            seat = seat_available(organization=organization)
            if not seat.allowed:
                self.add_error(None, f"{seat.reason} Remove a member, or change the plan.")
        return cleaned

    def validate_unique(self):
        pass  # the user is found or made at save time; a duplicate is refused in clean()


class MemberRoleForm(_RequestBoundForm):
    class Meta:
        model = Membership
        fields = ["role"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.limit_roles()

    def clean_role(self):
        role = self.cleaned_data["role"]
        if role != Role.OWNER and _is_last_owner(self.instance):
            raise forms.ValidationError("An organization keeps at least one owner: make someone else owner first.")
        return role

    def clean(self):
        cleaned = super().clean()
        self.check_owner_role(self.instance.organization, cleaned.get("role"))
        return cleaned


@admin.register(Membership)
class MembershipAdmin(OrgScopedAdmin, admin.ModelAdmin):
    list_display = ["username", "email", "organization", "role", "has_password", "created_at"]
    list_filter = ["organization", "role"]
    search_fields = ["user__username", "user__email", "user__first_name", "user__last_name"]
    list_select_related = ["user", "organization"]
    actions = ["resend_invitation", "remove_members"]

    def get_actions(self, request):
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)  # removal goes through the service, one by one
        return actions

    def get_fields(self, request, obj=None):
        return ["organization", "email", "role"] if obj is None else ["organization", "user", "role"]

    def get_readonly_fields(self, request, obj=None):
        return [] if obj is None else ["organization", "user"]

    def get_form(self, request, obj=None, change=False, **kwargs):
        kwargs["form"] = MemberInviteForm if obj is None else MemberRoleForm
        kwargs["fields"] = ["organization", "role"] if obj is None else ["role"]
        form = super().get_form(request, obj, change, **kwargs)
        return type(form.__name__, (form,), {"request": request})

    def _may_touch(self, request, obj) -> bool:
        return obj is None or obj.role != Role.OWNER or may_manage_owners(request, obj.organization)

    def has_change_permission(self, request, obj=None):
        return super().has_change_permission(request, obj) and self._may_touch(request, obj)

    def has_delete_permission(self, request, obj=None):
        return (super().has_delete_permission(request, obj) and self._may_touch(request, obj)
                and not (obj is not None and _is_last_owner(obj)))

    def save_model(self, request, obj, form, change):
        self.check_writable(request, obj)
        if change:
            membership_set_role(organization=obj.organization, user=obj.user, role=obj.role, actor=request.user)
            return
        result = member_invite(organization=obj.organization, email=form.cleaned_data["email"],
                               role=obj.role, actor=request.user)
        # The admin's redirect and history need the row that was really written.
        obj.pk, obj.user, obj.created_at = result.membership.pk, result.user, result.membership.created_at
        self.message_user(request, f"Invitation sent to {result.user.email}.", messages.SUCCESS)

    def delete_model(self, request, obj):
        self.check_writable(request, obj)
        membership_remove(organization=obj.organization, user=obj.user, actor=request.user)

    def delete_queryset(self, request, queryset):
        for membership in queryset & self.get_queryset(request):
            self.delete_model(request, membership)

    @admin.action(description="Remove the selected members from their organization")
    def remove_members(self, request, queryset):
        removed = 0
        for membership in (queryset & self.get_queryset(request)).select_related("user", "organization"):
            if not self.has_delete_permission(request, membership):
                self.message_user(request, f"{membership.user} ({membership.get_role_display()}) was kept: "
                                           "you cannot remove this member.", messages.WARNING)
                continue
            self.delete_model(request, membership)
            removed += 1
        if removed:
            self.message_user(request, f"Removed {removed} member{'s' if removed != 1 else ''}.", messages.SUCCESS)

    @admin.action(description="Send a new set-password link (members who have not set one)")
    def resend_invitation(self, request, queryset):
        sent = 0
        for membership in (queryset & self.get_queryset(request)).select_related("user", "organization"):
            if membership.user.has_usable_password() or not membership.user.email:
                continue
            invite_email_send_on_commit(membership=membership, inviter=request.user)
            sent += 1
        self.message_user(request, f"Sent {sent} set-password link{'s' if sent != 1 else ''}.", messages.INFO)

    @admin.display(description="User", ordering="user__username")
    def username(self, membership):
        return membership.user.get_username()

    @admin.display(description="Email", ordering="user__email")
    def email(self, membership):
        return membership.user.email

    @admin.display(description="Password set", boolean=True)
    def has_password(self, membership):
        return membership.user.has_usable_password()


@admin.register(AuditEvent)
class AuditEventAdmin(OrgScopedAdmin, admin.ModelAdmin):
    """The audit log: read by superusers (all orgs) and org admins (theirs); written by nobody here."""

    list_display = ["created_at", "organization", "actor", "action", "target"]
    list_filter = ["action", "organization"]
    search_fields = ["target", "actor__username", "actor__email"]
    list_select_related = ["organization", "actor"]
    fields = ["created_at", "organization", "actor", "action", "target", "details"]
    readonly_fields = fields
    date_hierarchy = "created_at"

    def has_add_permission(self, request, *args):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(ApiKey)
class ApiKeyAdmin(OrgScopedAdmin, admin.ModelAdmin):
    """REST API keys. The key is shown once, when created; only its hash is kept (never shown).
    Keys are not edited: they are revoked (the action) and a new one created."""

    list_display = ["name", "organization", "key_prefix", "role", "created_at", "last_used_at", "revoked_at"]
    list_filter = ["organization", "role"]
    search_fields = ["name", "prefix"]
    fields = ["organization", "name", "role"]
    actions = ["revoke"]

    @admin.display(description="Key", ordering="prefix")
    def key_prefix(self, api_key):
        return f"hk_{api_key.prefix}_…"

    def get_fields(self, request, obj=None):
        if obj is None:
            return ["organization", "name", "role"]
        return ["organization", "name", "key_prefix", "role", "created_by", "created_at", "last_used_at",
                "revoked_at"]

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return []
        return self.get_fields(request, obj)

    def has_change_permission(self, request, obj=None):
        # The change page is a read-only view: a key's name, org and role are fixed.
        return False if obj is not None else super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return False  # revoke instead: the audit log keeps the key's history

    def save_model(self, request, obj, form, change):
        self.check_writable(request, obj)
        api_key, plaintext = api_key_create(
            organization=obj.organization, name=obj.name, role=obj.role, actor=request.user
        )
        obj.pk = api_key.pk
        obj.__dict__.update({k: v for k, v in api_key.__dict__.items() if not k.startswith("_")})
        self.message_user(
            request,
            f"API key created. Copy it now, it will not be shown again: {plaintext}",
            messages.SUCCESS,
        )

    @admin.action(description="Revoke selected API keys")
    def revoke(self, request, queryset):
        count = 0
        for api_key in (queryset & self.get_queryset(request)).filter(revoked_at__isnull=True):
            self.check_writable(request, api_key)
            api_key_revoke(api_key=api_key, actor=request.user)
            count += 1
        self.message_user(request, f"Revoked {count} API key(s).", messages.SUCCESS)
