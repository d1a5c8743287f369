"""A fake Google for a Chat app, answering as Google's documentation says.

One server, three of Google's endpoints:
- `GET /certs/chat`: x509 certificates by key id, as
  `https://www.googleapis.com/service_accounts/v1/metadata/x509/chat@system.gserviceaccount.com`
  serves them (with `Cache-Control: public, max-age=…`), for the keys `ChatSigner`s sign with;
  `GET /certs/oidc` does the same for Google's OIDC ID tokens (the "HTTP endpoint URL" audience).
- `POST /token`: the OAuth 2.0 token endpoint for service accounts (JWT bearer grant): the
  assertion must be signed by a registered service account's key, for scope chat.bot;
  answers `{"access_token", "expires_in", "token_type"}` or `{"error": "invalid_grant", ...}`.
- `POST /v1/spaces/{space}/messages`: spaces.messages.create with a bearer access token from
  `/token`; honours `thread.name` only with `messageReplyOption=REPLY_MESSAGE_*` (else a new
  thread, as Chat does), `requestId` (a repeated id returns the message already created) and
  the 32,000-byte message limit. Errors are Google's `{"error": {"code", "message", "status"}}`.

Tests queue failures with `fail(...)`, revoke tokens with `revoke_tokens()`, read what users
saw with `texts(...)`.

Run it alone to play Google Chat locally: `python -m tests.fakes.google_chat_api [certs.json]`
prints the settings to point at it (any service account gets a token then).
"""

import datetime
import itertools
import json
import secrets
import sys
import threading
import time
import urllib.parse
from collections import deque

import google.auth.crypt
import google.auth.exceptions
import google.auth.jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from channels_gateway.adapters.google_chat import private_key_pem, self_signed_certificate_pem
from tests.fakes.http_server import FakeServer, RecordedRequest, Reply

CHAT_ISSUER = "chat@system.gserviceaccount.com"
CHAT_SCOPE = "https://www.googleapis.com/auth/chat.bot"
# google-auth always addresses its assertion to Google's token endpoint, whatever token_uri is.
GOOGLE_TOKEN_AUDIENCE = "https://oauth2.googleapis.com/token"
MAX_MESSAGE_BYTES = 32_000
JWT_BEARER_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
# The reply options that keep `thread.name`; without one Chat starts a new thread.
REPLY_OPTIONS = ("REPLY_MESSAGE_FALLBACK_TO_NEW_THREAD", "REPLY_MESSAGE_OR_FAIL")

_ids = itertools.count(1)

STATUSES = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    503: "UNAVAILABLE",
}
MESSAGES = {
    400: "Invalid argument.",
    401: "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie "
         "or other valid authentication credential.",
    403: "The caller does not have permission",
    404: "Requested entity was not found.",
    429: "Resource has been exhausted (e.g. check quota).",
    500: "Internal error encountered.",
    503: "The service is currently unavailable.",
}


def google_error(status: int, message: str | None = None, *, retry_after: str | None = None) -> Reply:
    headers = {"Retry-After": retry_after} if retry_after is not None else {}
    return Reply(status=status, headers=headers, body={"error": {
        "code": status, "message": message or MESSAGES.get(status, "Error."), "status": STATUSES.get(status, "UNKNOWN"),
    }})


def oauth_error(error: str, description: str) -> Reply:
    """The token endpoint's errors (RFC 6749): 400 with `error` and `error_description`."""
    return Reply(status=400, body={"error": error, "error_description": description})


def new_rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


class ChatSigner:
    """Plays Google Chat's side: signs bearer tokens (RS256, google-auth's RSASigner and
    jwt.encode) with a key whose self-signed certificate the fake serves by key id."""

    def __init__(self, *, issuer: str = CHAT_ISSUER, key: rsa.RSAPrivateKey | None = None,
                 key_id: str | None = None) -> None:
        self.issuer = issuer
        self.key = key or new_rsa_key()
        self.key_id = key_id or secrets.token_hex(20)
        self.private_key_pem = private_key_pem(self.key)
        self.certificate_pem = self_signed_certificate_pem(self.key, issuer, days=30)
        # From the key object: parsing a PEM private key again for every token is slow.
        self._signer = google.auth.crypt.RSASigner(self.key, key_id=self.key_id)

    def token(self, audience: str, *, lifetime: int = 3600, issued_at: int | None = None, **claims) -> str:
        now = int(time.time()) if issued_at is None else issued_at
        payload = {"iss": self.issuer, "aud": audience, "iat": now, "exp": now + lifetime, **claims}
        return google.auth.jwt.encode(self._signer, payload).decode()


def service_account_info(*, client_email: str = "handoff-test@handoff-test.iam.gserviceaccount.com",
                         token_uri: str = GOOGLE_TOKEN_AUDIENCE, key: rsa.RSAPrivateKey | None = None) -> dict:
    """A service account JSON key as the Cloud console downloads it."""
    return {
        "type": "service_account",
        "project_id": "handoff-test",
        "private_key_id": secrets.token_hex(20),
        "private_key": private_key_pem(key or new_rsa_key()),
        "client_email": client_email,
        "client_id": "1" + "".join(str(secrets.randbelow(10)) for _ in range(20)),
        "auth_uri": "https://accounts.google.com/o/oauth2/auth",
        "token_uri": token_uri,
        "universe_domain": "googleapis.com",
    }


class FakeGoogle(FakeServer):
    def __init__(self, *, lenient_tokens: bool = False) -> None:
        super().__init__()
        self._state = threading.Lock()
        self.lenient_tokens = lenient_tokens
        self.reset()

    def reset(self) -> None:
        """Forget everything, so one server can serve many tests."""
        with self._state:
            self.requests.clear()
            self.chat_certificates: dict[str, str] = {}
            self.oidc_certificates: dict[str, str] = {}
            self.certs_max_age = 21600
            self.service_accounts: dict[str, str] = {}  # client email → public key PEM
            self.access_tokens: dict[str, float] = {}  # token → expires at
            self.token_lifetime = 3599
            # Scripted answers for the next spaces.messages.create calls; None answers normally.
            self.scripted: deque[Reply | None] = deque()
            self.gone_spaces: set[str] = set()
            self.messages: list[dict] = []
            self._by_request_id: dict[tuple[str, str], dict] = {}

    # Set-up

    def trust(self, signer: ChatSigner, *, oidc: bool = False) -> ChatSigner:
        (self.oidc_certificates if oidc else self.chat_certificates)[signer.key_id] = signer.certificate_pem
        return signer

    def register_service_account(self, info: dict, *, key: rsa.RSAPrivateKey | None = None) -> dict:
        """Google knows this service account's public key (pass `key` to skip parsing the PEM)."""
        key = key or serialization.load_pem_private_key(info["private_key"].encode(), password=None)
        self.service_accounts[info["client_email"]] = key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        ).decode()
        return info

    def fail(self, status: int, times: int = 1, message: str | None = None, **kwargs) -> "FakeGoogle":
        for _ in range(times):
            self.scripted.append(google_error(status, message, **kwargs))
        return self

    def succeed(self, times: int = 1) -> "FakeGoogle":
        """Answer the next `times` calls normally (so a failure scripted after them hits a later part)."""
        self.scripted.extend([None] * times)
        return self

    def revoke_tokens(self) -> None:
        with self._state:
            self.access_tokens.clear()

    # What happened

    def requests_to(self, path_prefix: str) -> list[RecordedRequest]:
        return [request for request in self.requests if request.path.startswith(path_prefix)]

    def texts(self, *, space: str | None = None, thread: str | None = None) -> list[str]:
        return [m["text"] for m in self.messages
                if (space is None or m["space"] == space) and (thread is None or m["thread"] == thread)]

    # Google

    def respond(self, request: RecordedRequest) -> Reply:
        path = urllib.parse.urlsplit(request.path).path
        if request.method == "GET" and path in ("/certs/chat", "/certs/oidc"):
            certs = self.chat_certificates if path == "/certs/chat" else self.oidc_certificates
            return Reply(body=dict(certs), headers={
                "Cache-Control": f"public, max-age={self.certs_max_age}, must-revalidate, no-transform"})
        if request.method == "POST" and path == "/token":
            return self._token(request)
        if request.method == "POST" and path.startswith("/v1/spaces/") and path.endswith("/messages"):
            return self._create_message(request, path[len("/v1/"):-len("/messages")])
        return google_error(404, "Method not found.")

    def _token(self, request: RecordedRequest) -> Reply:
        form = dict(urllib.parse.parse_qsl(request.body.decode()))
        if form.get("grant_type") != JWT_BEARER_GRANT or not form.get("assertion"):
            return oauth_error("unsupported_grant_type", "Invalid grant_type: ")
        if not self.lenient_tokens:
            try:
                claims = google.auth.jwt.decode(form["assertion"], verify=False)
                public_key = self.service_accounts.get(claims.get("iss"))
                if public_key is None:
                    return oauth_error("invalid_grant", "Invalid grant: account not found")
                claims = google.auth.jwt.decode(form["assertion"], certs=public_key, audience=GOOGLE_TOKEN_AUDIENCE)
            except (ValueError, google.auth.exceptions.GoogleAuthError):
                return oauth_error("invalid_grant", "Invalid JWT Signature.")
            if CHAT_SCOPE not in str(claims.get("scope", "")).split():
                return oauth_error("invalid_scope", "Invalid OAuth scope.")
        token = f"ya29.fake-{secrets.token_urlsafe(24)}"
        with self._state:
            self.access_tokens[token] = time.time() + self.token_lifetime
        return Reply(body={"access_token": token, "expires_in": self.token_lifetime, "token_type": "Bearer"})

    def _create_message(self, request: RecordedRequest, space: str) -> Reply:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        with self._state:
            valid = scheme == "Bearer" and self.access_tokens.get(token, 0) > time.time()
        if not valid:
            return google_error(401)
        scripted = self.scripted.popleft() if self.scripted else None
        if scripted is not None:
            return scripted
        if space in self.gone_spaces:
            return google_error(404)
        try:
            body = request.json()
        except ValueError:
            return google_error(400, "Invalid JSON payload received.")
        text = body.get("text") if isinstance(body, dict) else None
        if not isinstance(text, str) or not text:
            return google_error(400, "Message cannot be empty. Discarding empty message.")
        if len(text.encode("utf-8")) > MAX_MESSAGE_BYTES:
            return google_error(400, "Message too large: the maximum message size is 32,000 bytes.")
        query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(request.path).query))
        request_id = query.get("requestId")
        with self._state:
            if request_id and (space, request_id) in self._by_request_id:
                return Reply(body=self._by_request_id[(space, request_id)]["resource"])
            wanted = (body.get("thread") or {}).get("name")
            replies = query.get("messageReplyOption") in REPLY_OPTIONS
            if replies and isinstance(wanted, str) and wanted.startswith(f"{space}/threads/"):
                thread = wanted
            else:
                thread = f"{space}/threads/{secrets.token_urlsafe(8).replace('-', 'x').replace('_', 'y')}"
            number = next(_ids)
            name = f"{space}/messages/m{number}.m{number}"
            resource = {
                "name": name,
                "sender": {"name": "users/app", "type": "BOT"},
                "createTime": datetime.datetime.now(datetime.timezone.utc).isoformat().replace("+00:00", "Z"),
                "text": text,
                "thread": {"name": thread},
                "space": {"name": space},
            }
            record = {"name": name, "space": space, "thread": thread, "text": text, "request_id": request_id,
                      "resource": resource}
            self.messages.append(record)
            if request_id:
                self._by_request_id[(space, request_id)] = record
        return Reply(body=resource)


if __name__ == "__main__":  # python -m tests.fakes.google_chat_api [certs.json]
    fake = FakeGoogle(lenient_tokens=True)
    if len(sys.argv) > 1:
        with open(sys.argv[1]) as certs:
            fake.chat_certificates.update(json.load(certs))
    with fake:
        print(f"GOOGLE_CHAT_API_BASE_URL={fake.url}/v1")
        print(f"GOOGLE_OAUTH_TOKEN_URL={fake.url}/token")
        print(f"GOOGLE_CHAT_CERTS_URL={fake.url}/certs/chat", flush=True)
        printed = 0
        try:
            while True:  # what the app "posted in Chat", as it arrives
                time.sleep(1)
                for message in fake.messages[printed:]:
                    print(f"{message['thread']}: {message['text']}", flush=True)
                    printed += 1
        except KeyboardInterrupt:
            pass
