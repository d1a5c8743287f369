from django.contrib import admin

from inbox.models import CannedReply
from orgs.admin_scoping import OrgScopedAdmin


@admin.register(CannedReply)
class CannedReplyAdmin(OrgScopedAdmin, admin.ModelAdmin):
    list_display = ["title", "organization", "created_at"]
    list_filter = ["organization"]
    search_fields = ["title", "text"]
