"""`Idempotency-Key` on POSTs: a retried request gets the first answer instead of acting twice."""

import hashlib

from django.db import IntegrityError, transaction
from rest_framework.response import Response

from handoff_site.errors import ConflictError, ValidationError
from orgs.models import ApiIdempotencyKey

HEADER = "Idempotency-Key"


def fingerprint(request) -> str:
    body_hash = hashlib.sha256(request.body or b"").hexdigest()
    return hashlib.sha256(f"{request.method}\n{request.path}\n{body_hash}".encode()).hexdigest()


def idempotent(request, handler) -> Response:
    """Run `handler()` once per (API key, Idempotency-Key), decided by the unique constraint:
    the first request claims the key by inserting its row, a concurrent one finds it taken
    (409, try again), a later repeat with the same method, path and body gets the stored
    answer, another body a 409. A refused request gives the key back, so a retry runs again."""
    key = request.headers.get(HEADER)
    if key is None:
        return handler()
    if not key or len(key) > 255:
        raise ValidationError("Idempotency-Key must be 1 to 255 characters.", code="invalid_idempotency_key")
    api_key = request.auth
    request_print = fingerprint(request)
    try:
        with transaction.atomic():
            claim = ApiIdempotencyKey.objects.create(api_key=api_key, key=key, fingerprint=request_print)
    except IntegrityError:
        return _answer_again(ApiIdempotencyKey.objects.get(api_key=api_key, key=key), request_print)
    try:
        response = handler()
    except BaseException:
        claim.delete()
        raise
    if 200 <= response.status_code < 300:
        claim.response_status, claim.response_body = response.status_code, response.data
        claim.save(update_fields=["response_status", "response_body"])
    else:
        claim.delete()
    return response


def _answer_again(stored: ApiIdempotencyKey, request_print: str) -> Response:
    if stored.fingerprint != request_print:
        raise ConflictError("This Idempotency-Key was used for a different request.", code="idempotency_key_reused")
    if stored.response_status is None:
        raise ConflictError("A request with this Idempotency-Key is still running; try again in a moment.",
                            code="idempotency_key_in_use")
    return Response(stored.response_body, status=stored.response_status, headers={"Idempotent-Replayed": "true"})
