from django.urls import path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from conversations.api import views

app_name = "api"

urlpatterns = [
    path("conversations/", views.ConversationListView.as_view(), name="conversation-list"),
    path("conversations/<int:conversation_id>/", views.ConversationDetailView.as_view(), name="conversation-detail"),
    path("conversations/<int:conversation_id>/messages/", views.ConversationMessagesView.as_view(),
         name="conversation-messages"),
    path("conversations/<int:conversation_id>/handoff/", views.EscalateView.as_view(), name="conversation-escalate"),
    path("messages/", views.InboundMessageView.as_view(), name="message-create"),
    path("handoffs/", views.HandoffQueueView.as_view(), name="handoff-list"),
    path("handoffs/<int:session_id>/", views.HandoffDetailView.as_view(), name="handoff-detail"),
    path("handoffs/<int:session_id>/accept/", views.HandoffAcceptView.as_view(), name="handoff-accept"),
    path("handoffs/<int:session_id>/reply/", views.HandoffReplyView.as_view(), name="handoff-reply"),
    path("handoffs/<int:session_id>/resolve/", views.HandoffResolveView.as_view(), name="handoff-resolve"),
    path("handoffs/<int:session_id>/transfer/", views.HandoffTransferView.as_view(), name="handoff-transfer"),
    path("handoffs/<int:session_id>/cancel/", views.HandoffCancelView.as_view(), name="handoff-cancel"),
    path("teammates/", views.TeammateListView.as_view(), name="teammate-list"),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    # The split view serves Swagger UI's start-up script as a file (?script), not inline: the CSP allows no inline script.
    path("docs/", SpectacularSwaggerSplitView.as_view(url_name="api:schema"), name="docs"),
]
