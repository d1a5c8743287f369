"""API-key authentication, the read-only rule and the per-key rate limit of the REST API."""

from datetime import timedelta

from django.conf import settings
from django.utils import timezone
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions, permissions, throttling

from orgs.models import ApiKey, ApiKeyRole
from orgs.services import API_KEY_PREFIX, api_key_hash

LAST_USED_GRANULARITY = timedelta(minutes=1)


class ApiClient:
    """`request.user` of an API request: the key's org, not a person."""

    is_authenticated = True
    is_active = True
    is_anonymous = False

    def __init__(self, api_key: ApiKey) -> None:
        self.api_key = api_key
        self.organization = api_key.organization
        self.pk = None

    def __str__(self) -> str:
        return f"API key {self.api_key}"


class ApiKeyAuthentication(authentication.BaseAuthentication):
    """`Authorization: Bearer hk_<prefix>_<secret>`. The key is found by its SHA-256 (an index
    lookup, no timing side channel on the secret); unknown and revoked keys are the same 401."""

    keyword = "Bearer"

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).decode("latin-1")
        if not header:
            return None
        scheme, _, token = header.partition(" ")
        token = token.strip()
        if scheme.lower() != self.keyword.lower() or not token.startswith(API_KEY_PREFIX) or len(token) > 200:
            raise exceptions.AuthenticationFailed("Invalid API key.", code="invalid_api_key")
        api_key = (
            ApiKey.objects.select_related("organization")
            .filter(hashed_key=api_key_hash(token), revoked_at__isnull=True)
            .first()
        )
        if api_key is None:
            raise exceptions.AuthenticationFailed("Invalid API key.", code="invalid_api_key")
        now = timezone.now()
        if api_key.last_used_at is None or now - api_key.last_used_at >= LAST_USED_GRANULARITY:
            ApiKey.objects.filter(pk=api_key.pk).update(last_used_at=now)
            api_key.last_used_at = now
        return ApiClient(api_key), api_key

    def authenticate_header(self, request):
        return f'{self.keyword} realm="api"'


class ApiKeyAuthenticationScheme(OpenApiAuthenticationExtension):
    target_class = "conversations.api.auth.ApiKeyAuthentication"
    name = "ApiKey"

    def get_security_definition(self, auto_schema):
        return {"type": "http", "scheme": "bearer", "bearerFormat": "hk_<prefix>_<secret>"}


class HasApiKey(permissions.BasePermission):
    """Any valid key may read; only `agent` keys may act."""

    message = "This API key is read-only."

    def has_permission(self, request, view):
        api_key = request.auth
        if not isinstance(api_key, ApiKey):
            return False
        return request.method in permissions.SAFE_METHODS or api_key.role == ApiKeyRole.AGENT


class ApiKeyRateThrottle(throttling.SimpleRateThrottle):
    """Per key, at `settings.API_RATE_LIMIT` (default 600/min)."""

    scope = "api_key"

    def get_rate(self):
        return getattr(settings, "API_RATE_LIMIT", "600/min")

    def get_cache_key(self, request, view):
        if not isinstance(request.auth, ApiKey):
            return None
        return self.cache_format % {"scope": self.scope, "ident": request.auth.pk}
