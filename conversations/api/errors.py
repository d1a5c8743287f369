"""One error shape for the whole REST API: `{"error": {"code", "message", ...details}}`."""

import logging

from django.core.exceptions import PermissionDenied, RequestDataTooBig
from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.response import Response

from handoff_site.database_outage import API_OUTAGE_ERROR, OUTAGE_HEADERS, is_database_outage
from handoff_site.errors import DomainError

logger = logging.getLogger(__name__)

_DRF_CODES = {
    exceptions.NotAuthenticated: "not_authenticated",
    exceptions.AuthenticationFailed: "invalid_api_key",
    exceptions.PermissionDenied: "permission_denied",
    exceptions.NotFound: "not_found",
    exceptions.MethodNotAllowed: "method_not_allowed",
    exceptions.NotAcceptable: "not_acceptable",
    exceptions.UnsupportedMediaType: "unsupported_media_type",
    exceptions.Throttled: "rate_limited",
    exceptions.ParseError: "parse_error",
}


def error_body(code: str, message: str, **details) -> dict:
    return {"error": {"code": code, "message": message, **details}}


def _message(detail) -> str:
    if isinstance(detail, list | tuple):
        return " ".join(str(item) for item in detail)
    return str(detail)


def api_exception_handler(exc, context):
    if isinstance(exc, DomainError):
        return Response({"error": exc.as_dict()}, status=exc.http_status)
    if isinstance(exc, RequestDataTooBig):  # over DATA_UPLOAD_MAX_MEMORY_SIZE: sending it again will not help
        return Response(error_body("too_large", "The request body is too large."),
                        status=status.HTTP_413_REQUEST_ENTITY_TOO_LARGE)
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()
    if isinstance(exc, exceptions.ValidationError):
        detail = exc.detail if isinstance(exc.detail, dict) else {"non_field_errors": exc.detail}
        return Response(error_body("invalid", "The request is not valid.", fields=detail),
                        status=status.HTTP_400_BAD_REQUEST)
    if isinstance(exc, exceptions.APIException):
        headers = {}
        if getattr(exc, "auth_header", None):
            headers["WWW-Authenticate"] = exc.auth_header
        details = {}
        if isinstance(exc, exceptions.Throttled):
            if exc.wait is not None:
                headers["Retry-After"] = "%d" % exc.wait
                details["retry_after"] = int(exc.wait)
            message = "Too many requests for this API key."
        else:
            message = _message(exc.detail)
        code = next((c for cls, c in _DRF_CODES.items() if isinstance(exc, cls)), None)
        if code is None:
            code = exc.get_codes() if isinstance(exc.get_codes(), str) else exc.default_code
        return Response(error_body(code, message, **details), status=exc.status_code, headers=headers)
    if is_database_outage(exc):  # the client tries again shortly, as with any 503
        return Response(API_OUTAGE_ERROR, status=status.HTTP_503_SERVICE_UNAVAILABLE, headers=dict(OUTAGE_HEADERS))
    logger.exception("Unhandled error in the REST API", exc_info=exc)
    return Response(error_body("server_error", "Something went wrong on our side."),
                    status=status.HTTP_500_INTERNAL_SERVER_ERROR)
