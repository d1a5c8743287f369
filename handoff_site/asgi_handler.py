"""Django's ASGI handler with the middleware chain run synchronously, in one thread hop.

Every view of the product is a sync view (ORM, services), and WhiteNoise is a sync-only
middleware. Under Django's own ASGIHandler the chain is built for async: it switches to a
thread for WhiteNoise and the middleware above it, back to the event loop below it, and each
MiddlewareMixin middleware below runs its process_request and process_response through
sync_to_async, a thread hop each, before the view's own hop: about a dozen hand-overs between
the event loop and the request's thread per request. Under load every hand-over waits for a
busy event loop, and the waits add up to most of a webhook's latency (bench/perf, figure 1).

Here the whole chain and the view run in the request's thread in one go, as under WSGI; the
event loop keeps what it is good at: reading requests, writing responses, websockets.
"""

import django
from asgiref.sync import sync_to_async
from django.core.handlers.asgi import ASGIHandler
from django.core.handlers.base import BaseHandler


class SyncMiddlewareASGIHandler(ASGIHandler):
    def __init__(self):
        BaseHandler.__init__(self)
        self.load_middleware(is_async=False)

    async def get_response_async(self, request):
        return await sync_to_async(self.get_response, thread_sensitive=True)(request)


def get_asgi_application() -> SyncMiddlewareASGIHandler:
    django.setup(set_prefix=False)
    return SyncMiddlewareASGIHandler()
