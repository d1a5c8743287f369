"""One error type for everything a user can be refused, with machine-readable codes.

Services raise these; the HTTP views, the REST exception handler and the websocket
consumers map them to a response or an error frame the same way.
"""


class DomainError(Exception):
    http_status = 400
    default_code = "invalid"

    def __init__(self, message: str, *, code: str | None = None, **details) -> None:
        super().__init__(message)
        self.message = message
        self.code = code or self.default_code
        self.details = details

    def as_dict(self) -> dict:
        return {"code": self.code, "message": self.message, **self.details}


class NotFoundError(DomainError):
    """Missing and forbidden-to-see answer the same, so nothing leaks across orgs."""

    http_status = 404
    default_code = "not_found"


class PermissionDeniedError(DomainError):
    http_status = 403
    default_code = "permission_denied"


class ConflictError(DomainError):
    http_status = 409
    default_code = "conflict"


class ValidationError(DomainError):
    http_status = 400
    default_code = "invalid"
