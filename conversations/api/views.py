"""The REST API, v1. Thin: every view is an org-scoped selector or a service call.

Authentication is an org API key (`auth.ApiKeyAuthentication`); everything a key sees or
touches belongs to its organization, and another org's object is a 404 like a missing one.
"""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import generics, pagination, status
from rest_framework.response import Response
from rest_framework.views import APIView

from channels_gateway.adapters.base import InboundMessage
from channels_gateway.models import ChannelConnection, Platform
from conversations import selectors
from conversations.api import serializers as s
from conversations.api.auth import ApiKeyAuthentication, ApiKeyRateThrottle, HasApiKey
from conversations.api.idempotency import HEADER as IDEMPOTENCY_HEADER
from conversations.api.idempotency import idempotent
from conversations.api.parsers import LimitedJSONParser
from conversations.models import HandoffTrigger
from conversations.payloads import message_payload, session_payload
from conversations.services import handoff as handoff_services
from conversations.services.messages import receive_inbound_message
from handoff_site.errors import ConflictError, NotFoundError, ValidationError
from inbox.selectors import teammates
from orgs.models import Membership


def _errors(*codes: int) -> dict:
    descriptions = {
        400: "Invalid input.", 401: "Missing, unknown or revoked API key.",
        403: "The key (or the teammate) may not do this.", 404: "Not found in the key's organization.",
        409: "Conflicts with the current state.", 429: "Rate limit exceeded; see Retry-After.",
    }
    return {code: OpenApiResponse(s.ErrorSerializer, description=descriptions[code]) for code in codes}


READ_ERRORS = (401, 404, 429)
WRITE_ERRORS = (400, 401, 403, 404, 409, 429)
IDEMPOTENCY_PARAMETER = OpenApiParameter(
    IDEMPOTENCY_HEADER, OpenApiTypes.STR, OpenApiParameter.HEADER, required=False,
    description="Retry-safe POSTs: the same key and body return the first answer; another body is a 409.",
)


def conversation_payload(conversation) -> dict:
    open_sessions = getattr(conversation, "open_sessions", [])
    contact = conversation.contact
    return {
        "id": conversation.pk,
        "mode": conversation.mode,
        "channel": conversation.connection.platform,
        "connection": conversation.connection.key,
        "thread_id": conversation.external_thread_id,
        "contact": {"id": contact.pk, "external_id": contact.external_id, "name": str(contact)},
        "agent": {"id": conversation.agent_id, "name": conversation.agent.name},
        "handoff": session_payload(open_sessions[0]) if open_sessions else None,
        "created_at": conversation.created_at.isoformat(),
        "last_message_at": conversation.last_message_at.isoformat() if conversation.last_message_at else None,
    }


class ApiMixin:
    authentication_classes = [ApiKeyAuthentication]
    permission_classes = [HasApiKey]
    throttle_classes = [ApiKeyRateThrottle]
    parser_classes = [LimitedJSONParser]

    @property
    def organization(self):
        return self.request.auth.organization

    def respond_once(self, request, *args, **kwargs):
        """A POST: `act`, once per Idempotency-Key."""
        return idempotent(request, lambda: self.act(request, *args, **kwargs))

    def valid(self, serializer_class, data=None):
        serializer = serializer_class(data=self.request.data if data is None else data)
        serializer.is_valid(raise_exception=True)
        return serializer.validated_data

    def teammate(self, user_id: int, field: str = "teammate_id"):
        membership = Membership.objects.filter(
            organization=self.organization, user_id=user_id, user__is_active=True
        ).select_related("user").first()
        if membership is None:
            raise ValidationError("No such teammate in this organization.", code="unknown_teammate", field=field)
        return membership.user

    def session(self, session_id: int):
        return selectors.api_session(organization=self.organization, session_id=session_id)


class ConversationPagination(pagination.CursorPagination):
    ordering = "-pk"
    page_size = 50
    page_size_query_param = "limit"
    max_page_size = 200


class MessagePagination(ConversationPagination):
    ordering = "pk"
    page_size = 100
    max_page_size = 500


class QueuePagination(ConversationPagination):
    ordering = ("queued_at", "pk")
    page_size = 100
    max_page_size = 500


# --- conversations and messages ----------------------------------------------------------------

@extend_schema_view(get=extend_schema(
    summary="List conversations", parameters=[s.ConversationFilterSerializer], responses={200: s.ConversationSerializer, **_errors(400, *READ_ERRORS)},
))
class ConversationListView(ApiMixin, generics.ListAPIView):
    serializer_class = s.ConversationSerializer
    pagination_class = ConversationPagination

    def get_queryset(self):
        filters = self.valid(s.ConversationFilterSerializer, self.request.query_params)
        return selectors.api_conversations(
            organization=self.organization, status=filters.get("status", ""), channel=filters.get("channel", ""),
            agent_id=filters.get("agent"), updated_since=filters.get("updated_since"),
        )

    def list(self, request, *args, **kwargs):
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response([conversation_payload(c) for c in page])


@extend_schema_view(get=extend_schema(
    summary="Get a conversation", responses={200: s.ConversationSerializer, **_errors(*READ_ERRORS)},
))
class ConversationDetailView(ApiMixin, generics.GenericAPIView):
    serializer_class = s.ConversationSerializer

    def get(self, request, conversation_id: int):
        conversation = selectors.api_conversation(organization=self.organization, conversation_id=conversation_id)
        return Response(conversation_payload(conversation))


@extend_schema_view(get=extend_schema(
    summary="List a conversation's messages, oldest first",
    responses={200: s.MessageSerializer, **_errors(*READ_ERRORS)},
))
class ConversationMessagesView(ApiMixin, generics.ListAPIView):
    serializer_class = s.MessageSerializer
    pagination_class = MessagePagination

    def list(self, request, conversation_id: int):
        conversation = selectors.api_conversation(organization=self.organization, conversation_id=conversation_id)
        page = self.paginate_queryset(selectors.api_messages(conversation=conversation))
        return self.get_paginated_response([message_payload(m) for m in page])


class InboundMessageView(ApiMixin, APIView):
    """An end user's message on one of your API channels: the AI answers, or the teammate sees it."""

    @extend_schema(
        summary="Post an end user's message (API channel)", request=s.InboundMessageRequestSerializer,
        parameters=[IDEMPOTENCY_PARAMETER],
        responses={201: s.InboundMessageResponseSerializer, 200: s.InboundMessageResponseSerializer,
                   **_errors(*WRITE_ERRORS)},
    )
    def post(self, request, *args, **kwargs):
        return self.respond_once(request, *args, **kwargs)

    def act(self, request):
        data = self.valid(s.InboundMessageRequestSerializer)
        connection = ChannelConnection.objects.filter(
            organization=self.organization, key=data["connection"], platform=Platform.API
        ).first()
        if connection is None:
            raise NotFoundError("No such API channel connection.", code="unknown_connection")
        result = receive_inbound_message(connection=connection, inbound=InboundMessage(
            contact_external_id=data["contact_id"], thread_id=data["thread_id"] or data["contact_id"],
            text=data["text"], platform_message_id=data["message_id"], contact_name=data["contact_name"],
        ))
        message = result.message
        return Response(
            {"created": result.created, "conversation_id": message.conversation_id,
             "message": message_payload(message)},
            status=status.HTTP_201_CREATED if result.created else status.HTTP_200_OK,
        )


# --- handoff sessions --------------------------------------------------------------------------

class EscalateView(ApiMixin, APIView):
    @extend_schema(
        summary="Escalate a conversation to a human (from your own agent)", request=s.EscalateRequestSerializer,
        parameters=[IDEMPOTENCY_PARAMETER],
        responses={201: OpenApiResponse(s.HandoffSessionSerializer, description="Queued."),
                   200: OpenApiResponse(s.HandoffSessionSerializer, description="Already open: that session."),
                   **_errors(*WRITE_ERRORS)},
    )
    def post(self, request, *args, **kwargs):
        return self.respond_once(request, *args, **kwargs)

    def act(self, request, conversation_id: int):
        data = self.valid(s.EscalateRequestSerializer)
        conversation = selectors.api_conversation(organization=self.organization, conversation_id=conversation_id)
        result = handoff_services.handoff_escalate(
            conversation_id=conversation.pk, trigger=HandoffTrigger.API, reason=data["reason"],
            summary=data["summary"], actor=handoff_services.Actor("api"),
        )
        if result.refused is not None:
            raise ConflictError(result.refused.reason, code=result.refused.code)
        session = self.session(result.session.pk)
        return Response(session_payload(session),
                        status=status.HTTP_201_CREATED if result.created else status.HTTP_200_OK)


@extend_schema_view(get=extend_schema(
    summary="The handoff queue: waiting and live sessions, oldest first, a page at a time",
    responses={200: s.HandoffSessionSerializer, **_errors(*READ_ERRORS)},
))
class HandoffQueueView(ApiMixin, generics.ListAPIView):
    serializer_class = s.HandoffSessionSerializer
    pagination_class = QueuePagination

    def list(self, request, *args, **kwargs):
        page = self.paginate_queryset(selectors.inbox_sessions(organization=self.organization))
        return self.get_paginated_response([session_payload(x) for x in page])


@extend_schema_view(get=extend_schema(
    summary="Get a handoff session", responses={200: s.HandoffSessionSerializer, **_errors(*READ_ERRORS)},
))
class HandoffDetailView(ApiMixin, APIView):
    def get(self, request, session_id: int):
        return Response(session_payload(self.session(session_id)))


def _session_action(summary: str, request_serializer, response=s.HandoffSessionSerializer):
    return extend_schema(summary=summary, request=request_serializer, parameters=[IDEMPOTENCY_PARAMETER],
                         responses={200 if response is s.HandoffSessionSerializer else 201: response,
                                    **_errors(*WRITE_ERRORS)})


class HandoffAcceptView(ApiMixin, APIView):
    @_session_action("Accept a waiting session for a teammate", s.TeammateActionSerializer)
    def post(self, request, *args, **kwargs):
        return self.respond_once(request, *args, **kwargs)

    def act(self, request, session_id: int):
        user = self.teammate(self.valid(s.TeammateActionSerializer)["teammate_id"])
        session = handoff_services.handoff_accept(session_id=self.session(session_id).pk, user=user)
        return Response(session_payload(session))


class HandoffReplyView(ApiMixin, APIView):
    @_session_action("Reply to the end user as the teammate holding the session", s.ReplyRequestSerializer,
                     response=s.MessageSerializer)
    def post(self, request, *args, **kwargs):
        return self.respond_once(request, *args, **kwargs)

    def act(self, request, session_id: int):
        data = self.valid(s.ReplyRequestSerializer)
        user = self.teammate(data["teammate_id"])
        message = handoff_services.handoff_reply(session_id=self.session(session_id).pk, user=user, text=data["text"])
        return Response(message_payload(message), status=status.HTTP_201_CREATED)


class HandoffResolveView(ApiMixin, APIView):
    @_session_action("Resolve: hand the conversation back to the AI", s.TeammateActionSerializer)
    def post(self, request, *args, **kwargs):
        return self.respond_once(request, *args, **kwargs)

    def act(self, request, session_id: int):
        user = self.teammate(self.valid(s.TeammateActionSerializer)["teammate_id"])
        session = handoff_services.handoff_resolve(session_id=self.session(session_id).pk, user=user)
        return Response(session_payload(session))


class HandoffTransferView(ApiMixin, APIView):
    @_session_action("Transfer a live session to another teammate", s.TransferRequestSerializer)
    def post(self, request, *args, **kwargs):
        return self.respond_once(request, *args, **kwargs)

    def act(self, request, session_id: int):
        data = self.valid(s.TransferRequestSerializer)
        user = self.teammate(data["teammate_id"])
        to_user = self.teammate(data["to_teammate_id"], field="to_teammate_id")
        session = handoff_services.handoff_transfer(session_id=self.session(session_id).pk, user=user,
                                                    to_user=to_user)
        return Response(session_payload(session))


class HandoffCancelView(ApiMixin, APIView):
    @_session_action("Cancel a handoff: your agent steps back in", s.CancelRequestSerializer)
    def post(self, request, *args, **kwargs):
        return self.respond_once(request, *args, **kwargs)

    def act(self, request, session_id: int):
        note = self.valid(s.CancelRequestSerializer)["note"]
        session = handoff_services.handoff_cancel(session_id=self.session(session_id).pk,
                                                  actor=handoff_services.Actor("api"), note=note)
        return Response(session_payload(self.session(session.pk)))


# --- teammates ---------------------------------------------------------------------------------

@extend_schema_view(get=extend_schema(
    summary="Teammates with presence", responses={200: s.TeammateSerializer(many=True), **_errors(*READ_ERRORS)},
))
class TeammateListView(ApiMixin, APIView):
    def get(self, request):
        return Response(teammates(organization=self.organization))


