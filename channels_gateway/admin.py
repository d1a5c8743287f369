from django.conf import settings
from django.contrib import admin
from django.utils.html import format_html

from channels_gateway.models import ChannelConnection, Platform


@admin.register(ChannelConnection)
class ChannelConnectionAdmin(admin.ModelAdmin):
    list_display = ["name", "platform", "organization", "agent", "is_active"]
    list_filter = ["platform", "is_active"]
    readonly_fields = ["key", "embed_snippet"]

    @admin.display(description="Embed on your site")
    def embed_snippet(self, obj):
        if not obj.pk or obj.platform != Platform.WIDGET:
            return "—"
        return format_html(
            '<code>&lt;script src="{}/widget.js" data-agent="{}" async&gt;&lt;/script&gt;</code>',
            settings.SITE_URL, obj.key,
        )
