"""Request bodies and, for the schema, the shapes of `conversations.payloads` and the API's own views."""

from rest_framework import serializers

from channels_gateway.models import Platform
from conversations.handoff_states import HandoffStatus
from conversations.models import AuthorKind, ConversationMode, DeliveryStatus, HandoffTrigger


class PersonRefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField(allow_blank=True)


class HandoffSessionSerializer(serializers.Serializer):
    """`conversations.payloads.session_payload`."""

    id = serializers.IntegerField()
    status = serializers.ChoiceField(choices=HandoffStatus.choices)
    conversation_id = serializers.IntegerField()
    channel = serializers.ChoiceField(choices=Platform.choices)
    channel_label = serializers.CharField()
    contact = PersonRefSerializer()
    agent = PersonRefSerializer()
    summary = serializers.CharField(allow_blank=True)
    reason = serializers.CharField(allow_blank=True)
    trigger = serializers.ChoiceField(choices=HandoffTrigger.choices)
    queued_at = serializers.DateTimeField()
    accepted_at = serializers.DateTimeField(allow_null=True)
    closed_at = serializers.DateTimeField(allow_null=True)
    assigned_to = PersonRefSerializer(allow_null=True)


class MessageSerializer(serializers.Serializer):
    """`conversations.payloads.message_payload`."""

    id = serializers.IntegerField()
    conversation_id = serializers.IntegerField()
    author_kind = serializers.ChoiceField(choices=AuthorKind.choices)
    author_name = serializers.CharField(allow_blank=True)
    text = serializers.CharField(allow_blank=True)
    created_at = serializers.DateTimeField()
    delivery_status = serializers.ChoiceField(choices=DeliveryStatus.choices)
    delivery_error = serializers.CharField(allow_blank=True)
    author_id = serializers.IntegerField(allow_null=True, help_text="The teammate who wrote it.")


class ContactSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    external_id = serializers.CharField(help_text="Your end-user id on API channels; the platform's id elsewhere.")
    name = serializers.CharField(allow_blank=True)


class ConversationSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    mode = serializers.ChoiceField(choices=ConversationMode.choices, help_text="Who answers: the AI or a human.")
    channel = serializers.ChoiceField(choices=Platform.choices)
    connection = serializers.CharField(help_text="The key of the channel connection.")
    thread_id = serializers.CharField()
    contact = ContactSerializer()
    agent = PersonRefSerializer()
    handoff = HandoffSessionSerializer(allow_null=True, help_text="The open handoff session, if any.")
    created_at = serializers.DateTimeField()
    last_message_at = serializers.DateTimeField(allow_null=True)


class TeammateSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField(allow_blank=True)
    presence = serializers.ChoiceField(choices=[("online", "Online"), ("away", "Away"), ("offline", "Offline")])
    active_sessions = serializers.IntegerField()
    can_handle = serializers.BooleanField()


class ErrorDetailSerializer(serializers.Serializer):
    code = serializers.CharField()
    message = serializers.CharField()


class ErrorSerializer(serializers.Serializer):
    """Every error; `error` may carry more details (e.g. `fields` for invalid input)."""

    error = ErrorDetailSerializer()


class ConversationFilterSerializer(serializers.Serializer):
    status = serializers.ChoiceField(
        choices=[("ai", "AI answers"), ("human", "A human answers"), ("queued", "Handoff waiting"),
                 ("active", "Handoff live")], required=False,
        help_text="ai/human: who answers; queued/active: the open handoff's status.")
    channel = serializers.ChoiceField(choices=Platform.choices, required=False)
    agent = serializers.IntegerField(required=False, min_value=1, max_value=2**31 - 1, help_text="AI agent id.")
    updated_since = serializers.DateTimeField(required=False, help_text="Last message at or after this time.")


# --- request bodies ---------------------------------------------------------------------------

class InboundMessageRequestSerializer(serializers.Serializer):
    connection = serializers.CharField(max_length=40, help_text="Key of one of your API channel connections.")
    contact_id = serializers.CharField(max_length=255, help_text="Your end user's id.")
    contact_name = serializers.CharField(max_length=255, required=False, allow_blank=True, default="")
    thread_id = serializers.CharField(max_length=255, required=False, allow_blank=True, default="",
                                      help_text="Your conversation id; defaults to contact_id.")
    text = serializers.CharField(max_length=20_000)
    message_id = serializers.CharField(max_length=255, help_text="Your message id: a repeat is stored once.")


class InboundMessageResponseSerializer(serializers.Serializer):
    created = serializers.BooleanField(help_text="False when this message_id was already received.")
    conversation_id = serializers.IntegerField()
    message = MessageSerializer()


class EscalateRequestSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=2000, required=False, allow_blank=True, default="")
    summary = serializers.CharField(max_length=20_000, required=False, allow_blank=True, default="")


class TeammateActionSerializer(serializers.Serializer):
    teammate_id = serializers.IntegerField(help_text="The member the action is taken for.")


class ReplyRequestSerializer(TeammateActionSerializer):
    text = serializers.CharField(max_length=20_000)


class TransferRequestSerializer(TeammateActionSerializer):
    to_teammate_id = serializers.IntegerField()


class CancelRequestSerializer(serializers.Serializer):
    note = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")
