from django.conf import settings
from django.contrib import admin, messages
from django.db import transaction
from django.utils.html import format_html

from channels_gateway.adapters.base import DeliveryError
from channels_gateway.adapters.registry import ADAPTER_PATHS, adapter_for
from channels_gateway.admin_forms import ChannelConnectionForm, platform_field_names
from channels_gateway.models import ChannelConnection, Platform
from channels_gateway.selectors import webhook_url
from channels_gateway.services import connection_register_webhook, connection_update_settings
from orgs.admin_scoping import OrgScopedAdmin


@admin.register(ChannelConnection)
class ChannelConnectionAdmin(OrgScopedAdmin, admin.ModelAdmin):
    form = ChannelConnectionForm
    list_display = ["name", "platform", "organization", "agent", "is_active"]
    list_filter = ["platform", "is_active"]
    search_fields = ["name", "key"]
    readonly_fields = ["key", "webhook", "embed_snippet", "credentials", "platform_setup"]
    actions = ["register_webhook"]

    def get_fieldsets(self, request, obj=None):
        fieldsets = [
            (None, {"fields": ["organization", "agent", "platform", "name", "is_active"]}),
            ("Connect", {"fields": ["key", "webhook", "embed_snippet", "credentials", "platform_setup"]}),
        ]
        platforms = [obj.platform] if obj else list(ADAPTER_PATHS)
        for platform in platforms:
            secret_fields, config_fields = platform_field_names(platform)
            if secret_fields or config_fields:
                fieldsets.append((f"{Platform(platform).label} settings", {
                    "fields": secret_fields + config_fields,
                    "classes": [] if obj else ["collapse"],
                }))
        fieldsets.append(("Advanced", {"fields": ["config"], "classes": ["collapse"]}))
        return fieldsets

    def get_readonly_fields(self, request, obj=None):
        # The platform decides the credentials' meaning: fixed once the connection exists.
        return [*self.readonly_fields, "platform", "organization"] if obj else self.readonly_fields

    def get_form(self, request, obj=None, change=False, **kwargs):
        # The per-platform fields are added by the form itself; the admin lists model fields only.
        readonly = self.get_readonly_fields(request, obj)
        kwargs["fields"] = [name for name in ChannelConnectionForm.Meta.fields if name not in readonly]
        return super().get_form(request, obj, change, **kwargs)

    def save_model(self, request, obj, form, change):
        with transaction.atomic():
            super().save_model(request, obj, form, change)  # refuses another org's (OrgScopedAdmin)
            connection_update_settings(connection=obj, secrets=form.typed_secrets(), config=form.typed_config(),
                                       actor=request.user)

    @admin.display(description="Webhook URL (paste it into the platform)")
    def webhook(self, obj):
        url = webhook_url(obj) if obj and obj.pk else None
        return format_html("<code>{}</code>", url) if url else "—"

    @admin.display(description="Embed on your site")
    def embed_snippet(self, obj):
        if not obj or not obj.pk or obj.platform != Platform.WIDGET:
            return "—"
        return format_html(
            '<code>&lt;script src="{}/widget.js" data-agent="{}" async&gt;&lt;/script&gt;</code>',
            settings.SITE_URL, obj.key,
        )

    @admin.display(description="Credentials")
    def credentials(self, obj):
        if not obj or not obj.pk:
            return "—"
        names = adapter_for(obj.platform).secret_fields
        if not names:
            return "None needed"
        if not obj.secrets_readable:
            return "Stored, but the configured FIELD_ENCRYPTION_KEYS cannot decrypt them: type them again"
        return ", ".join(f"{name}: {'set' if obj.secrets.get(name) else 'missing'}" for name in names)

    @admin.display(description="On the platform's side")
    def platform_setup(self, obj):
        return adapter_for(obj.platform).setup_help if obj and obj.pk else "—"

    @admin.action(description="Register the webhook with the platform")
    def register_webhook(self, request, queryset):
        for connection in queryset:
            try:
                outcome = connection_register_webhook(connection=connection)
            except LookupError as exc:
                self.message_user(request, f"{connection}: {exc}", messages.WARNING)
            except DeliveryError as exc:
                self.message_user(request, f"{connection}: {exc.reason}", messages.ERROR)
            else:
                self.message_user(request, f"{connection}: {outcome}", messages.SUCCESS)


# --- Outbound webhooks ------------------------------------------------------------------------

from django import forms  # noqa: E402

from channels_gateway.webhook_services import webhook_replay, webhook_rotate_secret  # noqa: E402
from channels_gateway.webhooks import (  # noqa: E402
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEvent,
)


class WebhookEndpointForm(forms.ModelForm):
    url = forms.URLField(max_length=500, assume_scheme="https", help_text="Where events are POSTed.")
    events = forms.MultipleChoiceField(choices=WebhookEvent.choices, widget=forms.CheckboxSelectMultiple,
                                       initial=list(WebhookEvent.values))

    class Meta:
        model = WebhookEndpoint
        fields = ["organization", "url", "description", "events", "is_active"]


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(OrgScopedAdmin, admin.ModelAdmin):
    form = WebhookEndpointForm
    list_display = ["url", "organization", "subscribed", "is_active", "created_at"]
    list_filter = ["organization", "is_active"]
    search_fields = ["url", "description"]
    readonly_fields = ["signing_secret", "created_at"]
    actions = ["rotate_secret"]

    @admin.display(description="Signing secret")
    def signing_secret(self, obj):
        if not obj or not obj.pk:
            return "Generated when you save; shown in full once."
        return format_html("<code>{}</code> (shown in full only when created or rotated)", obj.masked_secret)

    @admin.display(description="Events")
    def subscribed(self, obj):
        return ", ".join(obj.events)

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        if not change:
            self.message_user(request, format_html(
                "Signing secret for {}: <code>{}</code> — copy it now into your receiver; it is shown masked "
                "from now on (rotate it if lost).", obj.url, obj.secret), messages.WARNING)

    @admin.action(description="Rotate the signing secret")
    def rotate_secret(self, request, queryset):
        for endpoint in queryset & self.get_queryset(request):
            self.check_writable(request, endpoint)
            secret = webhook_rotate_secret(endpoint=endpoint)
            self.message_user(request, format_html("New signing secret for {}: <code>{}</code>", endpoint.url,
                                                   secret), messages.WARNING)


class WebhookAttemptInline(admin.TabularInline):
    model = WebhookAttempt
    extra = 0
    can_delete = False
    fields = ["attempted_at", "status_code", "error", "duration_ms", "response"]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(OrgScopedAdmin, admin.ModelAdmin):
    list_display = ["event_type", "event_id", "endpoint", "status", "attempts", "last_status_code", "created_at"]
    list_filter = ["status", "event_type"]
    search_fields = ["event_id", "endpoint__url"]
    inlines = [WebhookAttemptInline]
    actions = ["replay"]
    fields = ["organization", "endpoint", "event_id", "event_type", "status", "attempts", "next_attempt_at",
              "last_status_code", "last_error", "last_response", "payload", "created_at", "replayed_at",
              "delivered_at"]
    readonly_fields = fields

    def has_add_permission(self, request, *args):
        return False

    def has_change_permission(self, request, obj=None):
        return False  # read-only: what was sent is history

    @admin.action(description="Replay (send the same event again)")
    def replay(self, request, queryset):
        replayed = 0
        for delivery in queryset & self.get_queryset(request):
            self.check_writable(request, delivery)
            webhook_replay(delivery=delivery)
            replayed += 1
        self.message_user(request, f"{replayed} deliveries will be sent again.", messages.SUCCESS)
