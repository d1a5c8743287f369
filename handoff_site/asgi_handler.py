"""Django's ASGI handler with the middleware chain and the view run in one thread hop, in
the thread pool.

Every view of the product is a sync view (ORM, services), and WhiteNoise is a sync-only
middleware. Under Django's own ASGIHandler the chain is built for async: it switches to a
thread for WhiteNoise and the middleware above it, back to the event loop below it, and each
MiddlewareMixin middleware below runs its process_request and process_response through
sync_to_async, a thread hop each, before the view's own hop: about a dozen hand-overs between
the event loop and the request's thread per request. And every one of them goes to the one
thread-sensitive thread, so the process serves one request at a time, its database round
trips included (bench/perf, figure 1: p50 86 ms at 40 webhooks/s, 20 ms here).

Here the whole chain and the view run as under WSGI, in one of the event loop's pool threads,
so requests overlap while one waits on PostgreSQL; the event loop keeps what it is good at:
reading requests, writing responses, websockets. Django manages a thread's database
connection at request boundaries in the thread that sent the signals; the pool threads do it
here, so a connection that is too old or was broken by a database restart is replaced before
the next request in that thread.
"""

import django
from asgiref.sync import sync_to_async
from django.core.handlers.asgi import ASGIHandler
from django.core.handlers.base import BaseHandler
from django.db import close_old_connections


class SyncMiddlewareASGIHandler(ASGIHandler):
    def __init__(self):
        BaseHandler.__init__(self)
        self.load_middleware(is_async=False)

    async def get_response_async(self, request):
        return await sync_to_async(self._get_response_in_pool_thread, thread_sensitive=False)(request)

    def _get_response_in_pool_thread(self, request):
        close_old_connections()
        try:
            return self.get_response(request)
        finally:
            close_old_connections()


def get_asgi_application() -> SyncMiddlewareASGIHandler:
    django.setup(set_prefix=False)
    return SyncMiddlewareASGIHandler()
