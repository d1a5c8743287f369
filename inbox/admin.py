from django.contrib import admin

from inbox.models import CannedReply


@admin.register(CannedReply)
class CannedReplyAdmin(admin.ModelAdmin):
    list_display = ["title", "organization", "created_at"]
    list_filter = ["organization"]
    search_fields = ["title", "text"]
