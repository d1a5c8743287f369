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

Here the whole request runs as under WSGI, in one of the event loop's pool threads, so
requests overlap while one waits on PostgreSQL: the `request_started` signal, the middleware
chain and the view, and for a response held in memory its `close()` (`request_finished`).
Django's handler also runs each request in a ThreadSensitiveContext, whose first
thread-sensitive hop (the two signals, `response.close`) starts a thread for that request
alone and joins it at the end, and watches every request for an early disconnect with a task
of its own, which cannot stop a sync view anyway (bench/perf, figure 1: the web process's
CPU per webhook from 11.6 to 11.2 ms). The event loop keeps what it is good at: reading
requests, writing responses, websockets. Django manages a thread's database connection at
the request boundaries, in the thread that sends the signals; the pool threads do it here,
so a connection that is too old or was broken by a database restart is replaced before the
next request in that thread.

A platform's webhook into an ongoing conversation is taken on the event loop, without Django's
request cycle (channels_gateway/loop_webhooks.py). Other webhooks (`/webhooks/`) go through
`WEBHOOK_MIDDLEWARE` only, the part of the chain that concerns them (settings.py): they carry
no session, user, CSRF token or page to protect, and the rest of the chain was a fifth of a
webhook's time in Python (0.25 of 1.2 ms).
"""

import django
from asgiref.sync import sync_to_async
from django.conf import settings
from django.core import signals
from django.core.exceptions import RequestAborted
from django.core.handlers.asgi import ASGIHandler, get_script_prefix
from django.core.handlers.base import BaseHandler
from django.http import FileResponse
from django.urls import set_script_prefix


WEBHOOK_PATH = "/webhooks/"


def _handler_with(middleware: list[str]) -> BaseHandler:
    """A handler whose chain is `middleware`. Django builds a chain from settings.MIDDLEWARE
    only; it is read once here, at start-up, before any request."""
    handler, everything = BaseHandler(), settings.MIDDLEWARE
    settings.MIDDLEWARE = middleware
    try:
        handler.load_middleware(is_async=False)
    finally:
        settings.MIDDLEWARE = everything
    return handler


class SyncMiddlewareASGIHandler(ASGIHandler):
    def __init__(self):
        BaseHandler.__init__(self)
        self.load_middleware(is_async=False)
        self.webhook_handler = _handler_with(settings.WEBHOOK_MIDDLEWARE)
        # Imported once the apps are ready: it reaches the models.
        from channels_gateway.loop_webhooks import take

        self.take_webhook_on_event_loop = take

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            raise ValueError(f"Django can only handle ASGI/HTTP connections, not {scope['type']}.")
        try:
            body_file = await self.read_body(receive)
        except RequestAborted:
            return
        set_script_prefix(get_script_prefix(scope))
        try:
            # Reading a request touches nothing but the request: the event loop can.
            request, error_response = self.create_request(scope, body_file)
            response = None
            if request is not None and request.path_info.startswith(WEBHOOK_PATH):
                response = await self.take_webhook_on_event_loop(request)
            if response is None:
                response = await sync_to_async(self._respond_in_pool_thread, thread_sensitive=False)(
                    scope, request, error_response)
            await self.send_response(response, send)
        finally:
            body_file.close()
        if response.streaming:
            # A file is closed once it is sent.
            await sync_to_async(self._close_in_pool_thread, thread_sensitive=False)(response)

    def _respond_in_pool_thread(self, scope, request, error_response):
        """The response Django's chain and view give `request` (the one the event loop may have
        read already), or for a request Django could not read, `error_response`."""
        signals.request_started.send(sender=self.__class__, scope=scope)
        response = error_response
        if request is not None:
            handler = self.webhook_handler if request.path_info.startswith(WEBHOOK_PATH) else self
            response = handler.get_response(request)
            response._handler_class = self.__class__
            if isinstance(response, FileResponse):
                response.block_size = self.chunk_size
        if not response.streaming:
            # Its content is in memory: request_finished can run now, in this thread.
            response.close()
        return response

    @staticmethod
    def _close_in_pool_thread(response):
        response.close()


def get_asgi_application() -> SyncMiddlewareASGIHandler:
    django.setup(set_prefix=False)
    return SyncMiddlewareASGIHandler()
