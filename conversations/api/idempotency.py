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
    """Run `handler()` once per (API key, Idempotency-Key). Successful answers are stored; a
    repeat with the same method, path and body gets the stored answer, another body a 409.
    Errors are not stored: retrying a refused request runs it again."""
    key = request.headers.get(HEADER)
    if key is None:
        return handler()
    if not key or len(key) > 255:
        raise ValidationError("Idempotency-Key must be 1 to 255 characters.", code="invalid_idempotency_key")
    api_key = request.auth
    request_print = fingerprint(request)
    stored = ApiIdempotencyKey.objects.filter(api_key=api_key, key=key).first()
    if stored is None:
        response = handler()
        if 200 <= response.status_code < 300:
            try:
                with transaction.atomic():
                    ApiIdempotencyKey.objects.create(
                        api_key=api_key, key=key, fingerprint=request_print,
                        response_status=response.status_code, response_body=response.data,
                    )
            except IntegrityError:
                pass  # a concurrent request with the same key stored its answer first
        return response
    if stored.fingerprint != request_print:
        raise ConflictError("This Idempotency-Key was used for a different request.", code="idempotency_key_reused")
    return Response(stored.response_body, status=stored.response_status, headers={"Idempotent-Replayed": "true"})
