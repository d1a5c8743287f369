"""A fake Telegram Bot API that answers as the documentation says.

Requests go to `/bot<token>/METHOD` with JSON (or form) parameters. Every answer is
`{"ok": true, "result": ...}` or `{"ok": false, "error_code": N, "description": "..."}`;
a 429 carries `parameters.retry_after`. Known tokens only (else 401 "Unauthorized"),
a malformed path is 404 "Not Found". `sendMessage` checks chat_id and text (empty → 400,
over 4096 UTF-16 code units → 400 "message is too long"), answers 403 for chats that
blocked the bot and 400 "chat not found" for chats listed as unknown. `setWebhook` insists
on HTTPS and a well-formed secret token, like Telegram.

Tests queue failures in front of the normal behaviour with `fail(...)`; `pass_through()`
lets one call through first, so "the second part fails" can be scripted.
"""

import itertools
import json
import re
import threading
import time
from collections import defaultdict, deque
from urllib.parse import parse_qsl

from tests.fakes.http_server import FakeServer, RecordedRequest, Reply

_PATH = re.compile(r"^/bot(?P<token>[^/]+)/(?P<method>[A-Za-z]+)/?$")
_SECRET_TOKEN = re.compile(r"^[A-Za-z0-9_-]{1,256}$")

DESCRIPTIONS = {
    400: "Bad Request: chat not found",
    401: "Unauthorized",
    403: "Forbidden: bot was blocked by the user",
    404: "Not Found",
    429: "Too Many Requests: retry after {retry_after}",
    500: "Internal Server Error",
    502: "Bad Gateway",
}


def error(status: int, description: str | None = None, *, retry_after: int | None = None) -> Reply:
    body = {"ok": False, "error_code": status,
            "description": description or DESCRIPTIONS.get(status, "Error").format(retry_after=retry_after)}
    if retry_after is not None:
        body["parameters"] = {"retry_after": retry_after}
    return Reply(status=status, body=body)


def utf16_length(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


class FakeTelegram(FakeServer):
    def __init__(self, token: str, *, bot_username: str = "handoff_test_bot") -> None:
        super().__init__()
        # Poll for shutdown often: closing the server takes a blink, not half a second per test.
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.02},
                                        daemon=True)
        self.tokens = {token}
        self.chat_actions: list[tuple[str, str]] = []
        self.bot = {"id": int(token.split(":")[0]) if token.split(":")[0].isdigit() else 1,
                    "is_bot": True, "first_name": "Handoff", "username": bot_username}
        self.scripted: deque[Reply | None] = deque()
        self.blocked_chats: set[str] = set()
        self.unknown_chats: set[str] = set()
        self.sent: dict[str, list[dict]] = defaultdict(list)
        self.webhook: dict = {}
        self._message_ids = defaultdict(lambda: itertools.count(1001))

    # --- scripting ---------------------------------------------------------------------------

    def fail(self, status: int, times: int = 1, *, description: str | None = None,
             retry_after: int | None = None) -> "FakeTelegram":
        for _ in range(times):
            self.scripted.append(error(status, description, retry_after=retry_after))
        return self

    def pass_through(self, times: int = 1) -> "FakeTelegram":
        self.scripted.extend([None] * times)
        return self

    # --- what reached Telegram ---------------------------------------------------------------

    def delivered(self, chat_id) -> list[str]:
        return [message["text"] for message in self.sent[str(chat_id)]]

    def calls(self, method: str) -> list[dict]:
        found = []
        for request in self.requests:
            match = _PATH.match(request.path)
            if match and match["method"] == method:
                found.append(_params(request))
        return found

    # --- the API -----------------------------------------------------------------------------

    def respond(self, request: RecordedRequest) -> Reply:
        match = _PATH.match(request.path.split("?")[0])
        if match is None or request.method not in ("GET", "POST"):
            return error(404)
        if match["token"] not in self.tokens:
            return error(401)
        if self.scripted:
            scripted = self.scripted.popleft()
            if scripted is not None:
                return scripted
        try:
            params = _params(request)
        except ValueError:
            return error(400, "Bad Request: can't parse request JSON object")
        handler = getattr(self, f"_method_{match['method'].lower()}", None)
        if handler is None:
            return error(404)
        return handler(params)

    def _method_getme(self, params: dict) -> Reply:
        return Reply(body={"ok": True, "result": self.bot})

    def _method_sendmessage(self, params: dict) -> Reply:
        chat_id, text = params.get("chat_id"), params.get("text")
        if chat_id in (None, ""):
            return error(400, "Bad Request: chat_id is empty")
        if not isinstance(text, str) or not text.strip():
            return error(400, "Bad Request: message text is empty")
        if utf16_length(text) > 4096:
            return error(400, "Bad Request: message is too long")
        if str(chat_id) in self.unknown_chats:
            return error(400, "Bad Request: chat not found")
        if str(chat_id) in self.blocked_chats:
            return error(403, "Forbidden: bot was blocked by the user")
        message = {
            "message_id": next(self._message_ids[str(chat_id)]),
            "from": self.bot,
            "chat": {"id": int(chat_id), "type": "private"},
            "date": int(time.time()),
            "text": text,
        }
        self.sent[str(chat_id)].append({**message, "parse_mode": params.get("parse_mode")})
        return Reply(body={"ok": True, "result": message})

    def _method_sendchataction(self, params: dict) -> Reply:
        if params.get("action") not in {"typing", "upload_photo", "record_voice", "upload_document"}:
            return error(400, "Bad Request: wrong parameter action in request")
        self.chat_actions.append((str(params.get("chat_id")), params["action"]))
        return Reply(body={"ok": True, "result": True})

    def _method_setwebhook(self, params: dict) -> Reply:
        url = params.get("url") or ""
        if url and not url.startswith("https://"):
            return error(400, "Bad Request: bad webhook: An HTTPS URL must be provided for webhook")
        secret_token = params.get("secret_token")
        if secret_token is not None and not _SECRET_TOKEN.match(str(secret_token)):
            return error(400, "Bad Request: secret token contains unallowed characters")
        if not url:
            was_set, self.webhook = bool(self.webhook), {}
            return Reply(body={"ok": True, "result": True,
                               "description": "Webhook was deleted" if was_set else "Webhook is already deleted"})
        already = self.webhook.get("url") == url and self.webhook.get("secret_token") == secret_token
        self.webhook = {"url": url, "secret_token": secret_token,
                        "allowed_updates": params.get("allowed_updates"),
                        "drop_pending_updates": params.get("drop_pending_updates")}
        return Reply(body={"ok": True, "result": True,
                           "description": "Webhook is already set" if already else "Webhook was set"})

    def _method_getwebhookinfo(self, params: dict) -> Reply:
        return Reply(body={"ok": True, "result": {
            "url": self.webhook.get("url", ""), "has_custom_certificate": False, "pending_update_count": 0,
            **({"allowed_updates": self.webhook["allowed_updates"]} if self.webhook.get("allowed_updates") else {}),
        }})


def _params(request: RecordedRequest) -> dict:
    """The Bot API takes a query string, form fields or a JSON body."""
    params = dict(parse_qsl(request.path.partition("?")[2]))
    content_type = request.headers.get("content-type", "")
    if request.body and "json" in content_type:
        body = json.loads(request.body)
        if not isinstance(body, dict):
            raise ValueError("not an object")
        params.update(body)
    elif request.body:
        params.update(parse_qsl(request.body.decode()))
    return params
