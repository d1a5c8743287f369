from django.contrib import admin

from conversations.models import AIAgent, Conversation, GuardVerdict, HandoffSession, HandoffTransition, Message
from orgs.admin_scoping import OrgScopedAdmin


@admin.register(AIAgent)
class AIAgentAdmin(OrgScopedAdmin, admin.ModelAdmin):
    list_display = ["name", "organization", "handoff_enabled", "reminder_after_minutes", "expire_after_minutes"]
    list_filter = ["handoff_enabled"]
    fieldsets = [
        (None, {"fields": ["organization", "name", "system_prompt", "model"]}),
        ("Handoff", {"fields": ["handoff_enabled", "reminder_after_minutes", "expire_after_minutes"]}),
        ("What the user is told", {"fields": ["queued_message", "accepted_message", "resolved_message",
                                              "expired_message", "unavailable_message"]}),
        ("Guard", {"fields": ["guard_sensitivity", "guard_always_phrases", "guard_never_phrases"]}),
    ]


class MessageInline(admin.TabularInline):
    model = Message
    extra = 0
    can_delete = False
    fields = ["created_at", "author_kind", "author_user", "text", "delivery_status", "delivery_error"]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Conversation)
class ConversationAdmin(admin.ModelAdmin):
    list_display = ["pk", "contact", "agent", "connection", "mode", "last_message_at"]
    list_filter = ["mode", "connection__platform"]
    readonly_fields = ["organization", "agent", "connection", "contact", "external_thread_id", "mode"]
    inlines = [MessageInline]


class TransitionInline(admin.TabularInline):
    model = HandoffTransition
    extra = 0
    can_delete = False
    readonly_fields = ["created_at", "from_status", "to_status", "actor", "actor_kind", "note"]
    fields = readonly_fields

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(HandoffSession)
class HandoffSessionAdmin(admin.ModelAdmin):
    list_display = ["pk", "conversation", "status", "trigger", "assigned_to", "queued_at"]
    list_filter = ["status", "trigger"]
    # Status changes only through the state machine's services.
    readonly_fields = [field.name for field in HandoffSession._meta.fields]
    inlines = [TransitionInline]

    def has_add_permission(self, request):
        return False


@admin.register(GuardVerdict)
class GuardVerdictAdmin(admin.ModelAdmin):
    list_display = ["created_at", "conversation", "trigger", "backend", "confirmed", "score", "latency_ms", "reason"]
    list_filter = ["backend", "confirmed", "trigger"]
    readonly_fields = [field.name for field in GuardVerdict._meta.fields]

    def has_add_permission(self, request):
        return False
