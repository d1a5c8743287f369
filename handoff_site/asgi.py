import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "handoff_site.settings")

from handoff_site.asgi_handler import get_asgi_application  # noqa: E402

django_asgi_app = get_asgi_application()

from channels.routing import ProtocolTypeRouter  # noqa: E402

from handoff_site.routing import websocket_application  # noqa: E402

application = ProtocolTypeRouter({"http": django_asgi_app, "websocket": websocket_application})
