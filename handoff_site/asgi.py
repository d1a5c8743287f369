import gc
import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "handoff_site.settings")

from handoff_site.asgi_handler import get_asgi_application  # noqa: E402

django_asgi_app = get_asgi_application()

from channels.routing import ProtocolTypeRouter  # noqa: E402

from handoff_site.routing import websocket_application  # noqa: E402

application = ProtocolTypeRouter({"http": django_asgi_app, "websocket": websocket_application})

from handoff_site import daphne_requests  # noqa: E402

daphne_requests.install()

# Everything imported so far lives as long as the process: out of the collector's sight, a
# full collection no longer walks Django's few hundred thousand start-up objects, which
# stalled every request in flight for 100-200 ms (bench/perf, figure 1: p99 at 50 webhooks/s
# from about 175 ms to 40-50 ms).
gc.freeze()
# What the web process allocates later (open sockets and their consumers: 2,000 of them hold
# a few million objects) the collector still walks: at the default thresholds a full
# collection of 270-340 ms ran every 3-5 s while events fanned out to 2,000 sockets,
# promoted by young collections that caught each fan-out's messages in flight. A young
# collection every 50,000 allocations instead of 700 lets those die by reference count first.
gc.set_threshold(50_000, 20, 100)
