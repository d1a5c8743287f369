import logging

from django.contrib.staticfiles import finders
from django.http import FileResponse, Http404, HttpResponse, JsonResponse
from django.views.decorators.cache import cache_control
from django.views.decorators.csrf import csrf_exempt

from channels_gateway import remembered_connections
from channels_gateway.adapters.base import WebhookOutcome, WebhookRejected
from channels_gateway.adapters.registry import adapter_for, platforms_for_segment
from channels_gateway.encryption import CredentialsUnreadable
from channels_gateway.models import ChannelConnection
from channels_gateway.selectors import webhook_connection
from channels_gateway.services import receive_webhook_messages
from conversations.services.inbound_store import ConnectionChanged

logger = logging.getLogger(__name__)


@cache_control(public=True, max_age=300)
def widget_script(request):
    """The embeddable script lives at a stable URL: `<script src="https://…/widget.js" data-agent="…">`."""
    path = finders.find("channels_gateway/widget.js")
    if path is None:
        raise Http404
    return FileResponse(open(path, "rb"), content_type="text/javascript; charset=utf-8")


# What a connection's credentials answer when they do not match: after an admin typed new ones,
# the remembered connection's old ones would.
REFUSED_BY_CREDENTIALS = frozenset({401, 403})


@csrf_exempt
def platform_webhook(request, segment: str, key: str):
    """`/webhooks/<platform>/<connection key>/`: verify, store, answer fast. The AI turn runs
    in the worker after the message is stored, never inside the platform's request."""
    platforms = platforms_for_segment(segment)
    response = _take_webhook(request, segment, webhook_connection(key=key, platforms=platforms), last_try=False)
    if response is None:
        # The connection this process remembered is out of date: read it again, once.
        remembered_connections.forget(key)
        connection = webhook_connection(key=key, platforms=platforms, remembered=False)
        response = _take_webhook(request, segment, connection, last_try=True)
    return response


def _take_webhook(request, segment: str, connection: ChannelConnection | None, *,
                  last_try: bool) -> HttpResponse | None:
    """The response, or None when the connection may be out of date and it is not the last try."""
    if connection is None:
        return JsonResponse({"error": "unknown_connection"}, status=404)
    adapter = adapter_for(connection.platform)
    try:
        outcome = adapter.handle_webhook(connection, request)
        receive_webhook_messages(connection=connection, messages=outcome.messages)
    except WebhookRejected as rejected:
        if not last_try and rejected.status in REFUSED_BY_CREDENTIALS:
            return None
        return rejection_response(segment, connection, rejected)
    except ConnectionChanged:
        # Deactivated, or changed (its credentials too, maybe) since it was read.
        return None if not last_try else JsonResponse({"error": "unknown_connection"}, status=404)
    except CredentialsUnreadable:
        # A key missing or rotated wrongly: nothing can be verified, and it is not the platform's
        # fault. 503, so the platform delivers it again once the key is back.
        logger.error("Could not take a %s webhook for connection %s: its credentials cannot be decrypted "
                     "with the configured FIELD_ENCRYPTION_KEYS", segment, connection.pk)
        return JsonResponse({"error": "try_again"}, status=503, headers={"Retry-After": "60"})
    except Exception:
        # Nothing was acknowledged: the platform delivers it again, and storing is idempotent.
        logger.exception("Could not take a %s webhook for connection %s", segment, connection.pk)
        return JsonResponse({"error": "try_again"}, status=503, headers={"Retry-After": "5"})
    return acknowledgement(outcome)


def rejection_response(segment: str, connection: ChannelConnection, rejected: WebhookRejected) -> JsonResponse:
    logger.info("Rejected a %s webhook for connection %s: %s", segment, connection.pk, rejected.reason)
    return JsonResponse({"error": rejected.reason}, status=rejected.status)


def acknowledgement(outcome: WebhookOutcome) -> HttpResponse:
    return outcome.response or JsonResponse({"ok": True})
