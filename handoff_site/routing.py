from channels.auth import AuthMiddlewareStack
from channels.routing import URLRouter
from channels.security.websocket import AllowedHostsOriginValidator
from django.urls import path

from channels_gateway.consumers import WidgetConsumer
from inbox.consumers import InboxConsumer

websocket_application = URLRouter(
    [
        path("ws/inbox/", AllowedHostsOriginValidator(AuthMiddlewareStack(InboxConsumer.as_asgi()))),
        # Embedded on customers' sites: origins are checked per connection by the consumer.
        path("ws/widget/<str:connection_key>/", WidgetConsumer.as_asgi()),
    ]
)
