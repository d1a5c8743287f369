"""Views and a middleware that meet a database that went away, for test_outage_answers."""

from django.db import InterfaceError, OperationalError
from django.http import HttpResponse
from django.urls import path


def database_gone(request):
    raise OperationalError("server closed the connection unexpectedly")


def connection_closed(request):
    raise InterfaceError("connection already closed")


def a_bug(request):
    raise ValueError("not an outage")


def fine(request):
    return HttpResponse("ok")


class FailsOnTheWayOut:
    """Like a session saved after the view, when the database has just gone."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if request.path.endswith("/on-the-way-out/"):
            raise OperationalError("the database system is shutting down")
        return response


urlpatterns = [
    path("webhooks/telegram/gone/", database_gone),
    path("api/v1/gone/", connection_closed),
    path("inbox/gone/", database_gone),
    path("inbox/bug/", a_bug),
    path("inbox/on-the-way-out/", fine),
]
