"""A fake Meta Graph API: the Messenger Platform Send API (Messenger and Instagram) and the
WhatsApp Cloud API messages endpoint, answering as the documentation says.

- `POST /v21.0/me/messages` (or `/{page_id}/messages`) with a Page access token (Bearer header
  or `access_token` parameter): `{"recipient_id", "message_id"}`; text over the limit
  (Messenger 2000 characters, Instagram 1000 UTF-8 bytes) → `(#100)` invalid parameter;
  `MESSAGE_TAG` without a tag → `(#100)`.
- `POST /v21.0/{phone_number_id}/messages` with a Bearer token: `{"messaging_product",
  "contacts": [{"input", "wa_id"}], "messages": [{"id": "wamid…"}]}`; text over 4096 → `(#100)`.
- A wrong token → `(#190) Invalid OAuth access token` (OAuthException).
- Errors are `{"error": {"message", "type", "code", "error_subcode", "error_data", "fbtrace_id"}}`.

Tests queue scripted replies in front of that (`fail`, `ok`) and read what reached a user
with `delivered(user_id)`.
"""

import itertools
import json
import secrets
import threading
from collections import deque
from urllib.parse import parse_qs, urlsplit

from tests.fakes.http_server import FakeServer, RecordedRequest, Reply

VERSION = "v21.0"
_ids = itertools.count(1)


def graph_error(code: int, message: str, *, subcode: int | None = None, status: int = 400,
                details: str | None = None, headers: dict | None = None, whatsapp: bool = False) -> Reply:
    error = {"message": message, "type": "OAuthException", "code": code,
             "fbtrace_id": "A" + secrets.token_urlsafe(12)}
    if subcode is not None:
        error["error_subcode"] = subcode
    if whatsapp or details:
        error["error_data"] = {"messaging_product": "whatsapp", "details": details or message}
    return Reply(status=status, body={"error": error}, headers=headers or {})


def whatsapp_error(code: int, title: str, details: str, *, status: int = 400, headers: dict | None = None) -> Reply:
    """As the Cloud API words it: message "(#code) Title", the explanation in error_data.details."""
    return graph_error(code, f"(#{code}) {title}", status=status, details=details, headers=headers, whatsapp=True)


class FakeGraphAPI(FakeServer):
    def __init__(self) -> None:
        super().__init__()
        self.pages: dict[str, str] = {}  # Page access token → "messenger" | "instagram"
        self.phone_numbers: dict[str, str] = {}  # phone number id → access token
        self.scripted: deque[Reply | None] = deque()
        self.sent: list[dict] = []  # what the API accepted, in order
        self._send_lock = threading.Lock()
        # Poll for shutdown often: a test's teardown need not wait half a second.
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.02},
                                        daemon=True)

    @property
    def base_url(self) -> str:
        """What `settings.META_GRAPH_BASE_URL` points at (it includes the version)."""
        return f"{self.url}/{VERSION}"

    def add_page(self, token: str, platform: str = "messenger") -> "FakeGraphAPI":
        self.pages[token] = platform
        return self

    def add_phone_number(self, phone_number_id: str, token: str) -> "FakeGraphAPI":
        self.phone_numbers[str(phone_number_id)] = token
        return self

    def fail(self, reply: Reply, times: int = 1) -> "FakeGraphAPI":
        for _ in range(times):
            self.scripted.append(reply)
        return self

    def ok(self, times: int = 1) -> "FakeGraphAPI":
        """Let the next call(s) through normally (to script a failure on a later call)."""
        for _ in range(times):
            self.scripted.append(None)
        return self

    def delivered(self, user_id: str) -> list[str]:
        return [item["text"] for item in self.sent if item["to"] == str(user_id)]

    def calls(self) -> list[RecordedRequest]:
        return [request for request in self.requests if request.method == "POST"]

    # --- the API -------------------------------------------------------------------------

    def respond(self, request: RecordedRequest) -> Reply:
        parts = urlsplit(request.path)
        segments = parts.path.strip("/").split("/")
        if request.method != "POST" or len(segments) != 3 or segments[0] != VERSION or segments[2] != "messages":
            return graph_error(100, "Unsupported post request.", subcode=33)
        with self._send_lock:
            if self.scripted:
                scripted = self.scripted.popleft()
                if scripted is not None:
                    return scripted
        try:
            body = request.json()
        except ValueError:
            return graph_error(100, "(#100) The parameter recipient is required")
        token = self._token(request, parts.query, body)
        node = segments[1]
        if node in self.phone_numbers:
            if token != self.phone_numbers[node]:
                return graph_error(190, "Invalid OAuth access token - Cannot parse access token", status=401,
                                   whatsapp=True)
            return self._whatsapp(body)
        if token not in self.pages:
            return graph_error(190, "Invalid OAuth access token - Cannot parse access token")
        return self._send_api(body, self.pages[token])

    def _token(self, request: RecordedRequest, query: str, body) -> str:
        authorization = request.headers.get("authorization", "")
        if authorization.startswith("Bearer "):
            return authorization.removeprefix("Bearer ")
        from_query = parse_qs(query).get("access_token", [""])[0]
        return from_query or (body.get("access_token", "") if isinstance(body, dict) else "")

    def _send_api(self, body: dict, platform: str) -> Reply:
        recipient = (body.get("recipient") or {}).get("id")
        text = (body.get("message") or {}).get("text")
        messaging_type = body.get("messaging_type")
        if not recipient:
            return graph_error(100, "(#100) The parameter recipient is required")
        if messaging_type not in ("RESPONSE", "UPDATE", "MESSAGE_TAG"):
            return graph_error(100, "(#100) Param messaging_type must be one of {RESPONSE, UPDATE, MESSAGE_TAG}")
        if messaging_type == "MESSAGE_TAG" and not body.get("tag"):
            return graph_error(100, "(#100) Tag is required for MESSAGE_TAG messaging type")
        if not isinstance(text, str) or not text:
            return graph_error(100, "(#100) Must send either message or state")
        if platform == "instagram" and len(text.encode("utf-8")) > 1000:
            return graph_error(100, "(#100) Length of param message[text] must be less than or equal to 1000")
        if platform == "messenger" and len(text) > 2000:
            return graph_error(100, "(#100) Length of param message[text] must be less than or equal to 2000")
        message_id = f"m_{next(_ids):06d}" + secrets.token_urlsafe(16)
        self.sent.append({"platform": platform, "to": str(recipient), "text": text, "message_id": message_id,
                          "messaging_type": messaging_type, "tag": body.get("tag")})
        return Reply(body={"recipient_id": str(recipient), "message_id": message_id})

    def _whatsapp(self, body: dict) -> Reply:
        if body.get("messaging_product") != "whatsapp" or not body.get("to"):
            return whatsapp_error(100, "Invalid parameter", "messaging_product and to are required")
        kind = body.get("type", "text")
        if kind == "text":
            text = (body.get("text") or {}).get("body")
            if not isinstance(text, str) or not text:
                return whatsapp_error(100, "Invalid parameter", "Parameter 'text.body' is required")
            if len(text) > 4096:
                return whatsapp_error(100, "Invalid parameter",
                                      "Param text['body'] must be at most 4096 characters long.")
            template = None
        elif kind == "template":
            template = body.get("template") or {}
            if not template.get("name") or not (template.get("language") or {}).get("code"):
                return whatsapp_error(132001, "Template name does not exist in the translation",
                                      "template name and language are required")
            parameters = [parameter.get("text", "") for component in template.get("components", [])
                          if component.get("type") == "body" for parameter in component.get("parameters", [])]
            if any("\n" in value or "\t" in value or "     " in value for value in parameters):
                return whatsapp_error(100, "Invalid parameter", "Param text cannot have new-line/tab characters "
                                      "or more than 4 consecutive spaces")
            text = " ".join(parameters)
        else:
            return whatsapp_error(131051, "Unsupported message type", f"Message type {kind} is not supported")
        message_id = "wamid." + secrets.token_urlsafe(24)
        self.sent.append({"platform": "whatsapp", "to": str(body["to"]), "text": text, "type": kind,
                          "template": template, "message_id": message_id})
        return Reply(body={"messaging_product": "whatsapp",
                           "contacts": [{"input": body["to"], "wa_id": body["to"]}],
                           "messages": [{"id": message_id}]})


def dumps(payload) -> bytes:
    """A webhook body as Meta sends it (compact JSON; non-ASCII escaped as \\uXXXX)."""
    return json.dumps(payload, separators=(",", ":")).encode()
