"""The database is down or restarting: every HTTP request answers 503 with Retry-After, never 500.

A platform retries a webhook that got a 503 (and storing is idempotent), a browser or an API
client is told to try again shortly. Only errors of the connection count (OperationalError,
InterfaceError: refused, closed, shutting down, starting up); any other database error is a bug
and stays a 500.

Views' exceptions arrive in `process_exception`. An error raised in a middleware (a session
saved on the way out, a user loaded by another middleware) is turned into a 500 response by
Django before an outer middleware could see the exception, so the `got_request_exception`
signal marks the request and this middleware, the outermost, answers 503 instead.
"""

import logging
import sys
from collections.abc import Callable
from typing import TypeVar

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from channels.db import database_sync_to_async
from django.core.signals import got_request_exception
from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse, JsonResponse

logger = logging.getLogger(__name__)

RETRY_AFTER_SECONDS = 5
_MARK = "_handoff_database_outage"


DATABASE_OUTAGE_ERRORS = (OperationalError, InterfaceError)
OUTAGE_MESSAGE = "The service is briefly unavailable; try again shortly."


def is_database_outage(exc: BaseException | None) -> bool:
    return isinstance(exc, DATABASE_OUTAGE_ERRORS)


Result = TypeVar("Result")


async def read_database(read: Callable[..., Result], *args, **kwargs) -> Result:
    """A websocket's read, from its thread, tried once more when it fails on the thread's kept
    connection. A connection PostgreSQL closed (a restart) fails at its next use only, and an
    HTTP request that meets it answers 503 once; a socket has no one to retry for it, so an
    open inbox's next snapshot closed it (1011) after every restart. The failed call marks the
    connection broken and database_sync_to_async replaces it on the way out, so the second
    try runs on a new one. Only for reads: a write is not repeated behind the user's back."""
    try:
        return await database_sync_to_async(read)(*args, **kwargs)
    except DATABASE_OUTAGE_ERRORS:
        logger.info("A kept database connection was broken; reading again on a new one")
    return await database_sync_to_async(read)(*args, **kwargs)


OUTAGE_HEADERS = {"Retry-After": str(RETRY_AFTER_SECONDS), "Cache-Control": "no-store"}
# The REST API's error shape (conversations.api.errors), for its exception handler too.
API_OUTAGE_ERROR = {"error": {"code": "service_unavailable", "message": OUTAGE_MESSAGE,
                              "retry_after": RETRY_AFTER_SECONDS}}


def outage_response(request: HttpRequest) -> HttpResponse:
    headers = dict(OUTAGE_HEADERS)
    path = request.path
    if path.startswith("/api/"):
        return JsonResponse(API_OUTAGE_ERROR, status=503, headers=headers)
    if path.startswith("/webhooks/") or path == "/healthz":
        return JsonResponse({"error": "try_again"}, status=503, headers=headers)
    return HttpResponse(
        "<!doctype html><title>Back in a moment</title><h1>Back in a moment</h1>"
        "<p>Handoff is briefly unavailable. This page will work again shortly; please reload it.</p>",
        status=503, headers=headers, content_type="text/html; charset=utf-8",
    )


def _mark_outage(sender, request=None, **kwargs) -> None:
    # Called inside Django's `except` block, so the exception is the current one.
    if request is not None and is_database_outage(sys.exc_info()[1]):
        setattr(request, _MARK, True)


got_request_exception.connect(_mark_outage, dispatch_uid="handoff-database-outage")


class DatabaseOutageMiddleware:
    sync_capable = True
    async_capable = True

    def __init__(self, get_response):
        self.get_response = get_response
        self.is_async = iscoroutinefunction(get_response)
        if self.is_async:
            markcoroutinefunction(self)

    def __call__(self, request):
        if self.is_async:
            return self._acall(request)
        return self._answer(request, self.get_response(request))

    async def _acall(self, request):
        return self._answer(request, await self.get_response(request))

    def _answer(self, request: HttpRequest, response: HttpResponse) -> HttpResponse:
        if getattr(request, _MARK, False) and response.status_code >= 500:
            return outage_response(request)
        return response

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not is_database_outage(exception):
            return None
        logger.warning("Database unavailable during %s %s: %s", request.method, request.path,
                       type(exception).__name__)
        setattr(request, _MARK, True)  # a later error on the way out (session save) answers 503 too
        return outage_response(request)
