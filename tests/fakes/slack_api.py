"""A fake Slack Web API (`chat.postMessage`) that answers as Slack documents it.

- Success: HTTP 200 `{"ok": true, "channel": ..., "ts": ..., "message": {...}}`.
- Errors are HTTP 200 with `{"ok": false, "error": "<code>"}` (`not_authed`, `invalid_auth`,
  `channel_not_found`, `no_text`, or whatever a test scripts).
- Rate limits are HTTP 429 with `Retry-After` and `{"ok": false, "error": "ratelimited"}`.
- `text` longer than 40,000 characters is truncated and posted with a `message_truncated` warning.

Tests script replies in front of the default behaviour with `fail_with`, `rate_limit`,
`server_error` and `slow`; `ok()` queues a normal answer (to fail a later call only).
"""

import itertools
import json
import threading
import time
from collections import deque
from dataclasses import dataclass
from urllib.parse import parse_qs

from tests.fakes.http_server import FakeServer, RecordedRequest, Reply

TEXT_LIMIT = 40_000


@dataclass
class Posted:
    channel: str
    text: str
    thread_ts: str | None
    ts: str

    @property
    def shown(self) -> str:
        """The text as a Slack client renders it (&amp; &lt; &gt; unescaped)."""
        return self.text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


class FakeSlack(FakeServer):
    def __init__(self, token: str | None = None) -> None:
        super().__init__()
        self.token = token
        self.posted: list[Posted] = []
        self.scripted: deque[Reply | None] = deque()
        self._ts = itertools.count(1)
        self._ts_lock = threading.Lock()

    @property
    def api_url(self) -> str:
        """What SLACK_API_BASE_URL points at (the real one is https://slack.com/api)."""
        return f"{self.url}/api"

    def reset(self, token: str | None = None) -> "FakeSlack":
        """Forget everything, for reuse by the next test (starting a server is cheap, stopping one
        waits for its poll interval)."""
        with self._lock:
            self.requests.clear()
        self.posted.clear()
        self.scripted.clear()
        self.token = token
        return self

    # --- scripting -----------------------------------------------------------------------------

    def ok(self, times: int = 1) -> "FakeSlack":
        self.scripted.extend([None] * times)
        return self

    def fail_with(self, error: str, times: int = 1) -> "FakeSlack":
        for _ in range(times):
            self.scripted.append(Reply(200, {"ok": False, "error": error}))
        return self

    def rate_limit(self, retry_after: int = 30, times: int = 1) -> "FakeSlack":
        for _ in range(times):
            self.scripted.append(Reply(429, {"ok": False, "error": "ratelimited"}, {"Retry-After": str(retry_after)}))
        return self

    def server_error(self, status: int = 503, times: int = 1) -> "FakeSlack":
        for _ in range(times):
            self.scripted.append(Reply(status, b"<html><body>Service Unavailable</body></html>"))
        return self

    def slow(self, seconds: float) -> "FakeSlack":
        self.scripted.append(Reply(200, {"ok": True, "channel": "", "ts": "0.0"}, delay=seconds))
        return self

    # --- reading -------------------------------------------------------------------------------

    def texts(self, channel: str, thread_ts: str | None = None) -> list[str]:
        """What the user sees in a DM (thread_ts None) or in one thread, oldest first."""
        return [p.shown for p in self.posted if p.channel == channel and p.thread_ts == thread_ts]

    # --- the API -------------------------------------------------------------------------------

    def respond(self, request: RecordedRequest) -> Reply:
        if request.method != "POST" or not request.path.split("?")[0].endswith("/api/chat.postMessage"):
            return Reply(404, {"ok": False, "error": "unknown_method"})
        if self.scripted:
            scripted = self.scripted.popleft()
            if scripted is not None:
                return scripted
        authorization = request.headers.get("authorization", "")
        if not authorization.startswith("Bearer "):
            return Reply(200, {"ok": False, "error": "not_authed"})
        if self.token is not None and authorization.removeprefix("Bearer ") != self.token:
            return Reply(200, {"ok": False, "error": "invalid_auth"})
        arguments = _arguments(request)
        channel = arguments.get("channel") or ""
        text = arguments.get("text") or ""
        if not channel or channel[0] not in "CDG":
            return Reply(200, {"ok": False, "error": "channel_not_found"})
        if not text and not arguments.get("blocks") and not arguments.get("attachments"):
            return Reply(200, {"ok": False, "error": "no_text"})
        body: dict = {}
        if len(text) > TEXT_LIMIT:
            text = text[:TEXT_LIMIT]
            body["response_metadata"] = {
                "messages": ["[WARN] Your message was truncated but still posted. "
                             "The `text` field accepts up to 40,000 characters."],
                "warnings": ["message_truncated"],
            }
        with self._ts_lock:
            ts = f"{int(time.time())}.{next(self._ts):06d}"
        thread_ts = arguments.get("thread_ts") or None
        self.posted.append(Posted(channel, text, thread_ts, ts))
        message = {"type": "message", "subtype": "bot_message", "text": text, "ts": ts, "bot_id": "B0FAKEBOT"}
        if thread_ts:
            message["thread_ts"] = thread_ts
        return Reply(200, {"ok": True, "channel": channel, "ts": ts, "message": message, **body})


def _arguments(request: RecordedRequest) -> dict:
    content_type = request.headers.get("content-type", "")
    if content_type.startswith("application/json"):
        try:
            value = json.loads(request.body or b"{}")
        except ValueError:
            return {}
        return value if isinstance(value, dict) else {}
    return {name: values[-1] for name, values in parse_qs(request.body.decode("utf-8", "replace")).items()}


if __name__ == "__main__":
    # Stand in for Slack while playing it with curl: every message the bot posts is printed.
    # `python -m tests.fakes.slack_api`, then run the app with SLACK_API_BASE_URL set to the printed URL.
    class _Printing(FakeSlack):
        def respond(self, request: RecordedRequest) -> Reply:
            reply = super().respond(request)
            if reply.status == 200 and isinstance(reply.body, dict) and reply.body.get("ok"):
                posted = self.posted[-1]
                where = posted.channel + (f" thread {posted.thread_ts}" if posted.thread_ts else "")
                print(f"[{where}] {posted.shown}", flush=True)
            else:
                print(f"-> HTTP {reply.status} {reply.body!r}", flush=True)
            return reply

    with _Printing() as fake:
        print(f"Fake Slack Web API: SLACK_API_BASE_URL={fake.api_url}", flush=True)
        threading.Event().wait()
