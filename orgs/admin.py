from django.contrib import admin

from orgs.models import Membership, Organization


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    autocomplete_fields = ["user"]


@admin.register(Organization)
class OrganizationAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "plan", "created_at"]
    search_fields = ["name", "slug"]
    inlines = [MembershipInline]
