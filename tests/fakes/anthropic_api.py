"""A fake Anthropic Messages API that answers as the documentation says.

Success bodies are Message objects (text and tool_use content blocks); errors are
`{"type": "error", "error": {"type": ..., "message": ...}}` with the documented status
(429 rate_limit_error with retry-after, 529 overloaded_error, 500 api_error).

By default it behaves like a sensible model: the guard prompt gets "yes"/"no", the
summary prompt gets a summary, the agent calls `request_human` when the latest user
turn mentions a human/person/agent and answers in text otherwise. Tests queue scripted
replies or failures in front of that.
"""

import itertools
import re
from collections import deque

from tests.fakes.http_server import FakeServer, RecordedRequest, Reply

_ids = itertools.count(1)
ASKS_FOR_PERSON = re.compile(r"\b(human|person|agent|someone|operator)\b", re.I)

ERRORS = {
    400: "invalid_request_error",
    401: "authentication_error",
    429: "rate_limit_error",
    500: "api_error",
    529: "overloaded_error",
}


def message(content: list[dict], *, stop_reason: str = "end_turn", model: str = "claude-test") -> dict:
    return {
        "id": f"msg_{next(_ids):024d}",
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": content,
        "stop_reason": stop_reason,
        "stop_sequence": None,
        "usage": {"input_tokens": 25, "output_tokens": 12},
    }


def text_message(text: str) -> dict:
    return message([{"type": "text", "text": text}])


def tool_use_message(reason: str, *, preface: str = "") -> dict:
    content = [{"type": "text", "text": preface}] if preface else []
    content.append({"type": "tool_use", "id": f"toolu_{next(_ids):024d}", "name": "request_human",
                    "input": {"reason": reason}})
    return message(content, stop_reason="tool_use")


def error_reply(status: int, *, retry_after: str | None = "0") -> Reply:
    headers = {"request-id": f"req_{next(_ids):024d}"}
    if status == 429 and retry_after is not None:
        headers["retry-after"] = retry_after
    return Reply(status=status, headers=headers, body={
        "type": "error",
        "error": {"type": ERRORS.get(status, "api_error"), "message": f"Fake {ERRORS.get(status)}"},
    })


class FakeAnthropic(FakeServer):
    def __init__(self) -> None:
        super().__init__()
        self.scripted: deque[Reply] = deque()

    def then(self, body_or_reply) -> "FakeAnthropic":
        self.scripted.append(body_or_reply if isinstance(body_or_reply, Reply) else Reply(body=body_or_reply))
        return self

    def fail(self, status: int, times: int = 1, **kwargs) -> "FakeAnthropic":
        for _ in range(times):
            self.scripted.append(error_reply(status, **kwargs))
        return self

    def calls(self, kind: str | None = None) -> list[dict]:
        bodies = [request.json() for request in self.requests if request.path.endswith("/v1/messages")]
        return [body for body in bodies if kind is None or classify(body) == kind]

    def respond(self, request: RecordedRequest) -> Reply:
        if not request.path.endswith("/v1/messages") or request.method != "POST":
            return Reply(status=404, body={"type": "error", "error": {"type": "not_found_error", "message": "?"}})
        # The SDK authenticates with `x-api-key` or `Authorization: Bearer`, by version.
        if not (request.headers.get("x-api-key") or request.headers.get("authorization", "").startswith("Bearer ")):
            return error_reply(401)
        if self.scripted:
            return self.scripted.popleft()
        return Reply(body=default_answer(request.json()))


def classify(body: dict) -> str:
    system = body.get("system") or ""
    system = system if isinstance(system, str) else " ".join(block.get("text", "") for block in system)
    if "Reply with exactly one word: yes or no" in system:
        return "guard"
    if "handoff notes" in system:
        return "summary"
    return "agent"


def _latest_user_text(body: dict) -> str:
    for turn in reversed(body.get("messages", [])):
        if turn["role"] == "user":
            content = turn["content"]
            if isinstance(content, str):
                return content
            return " ".join(block.get("text", "") for block in content if block.get("type") == "text")
    return ""


def default_answer(body: dict) -> dict:
    kind = classify(body)
    latest = _latest_user_text(body)
    if kind == "guard":
        return text_message("yes" if ASKS_FOR_PERSON.search(latest.split("latest message:")[-1]) else "no")
    if kind == "summary":
        return text_message("The customer needs help with their order and asked for a person.")
    last_turn = body["messages"][-1]
    if isinstance(last_turn["content"], list) and any(b.get("type") == "tool_result" for b in last_turn["content"]):
        return text_message("Of course, I'll keep helping you myself. What do you need?")
    if ASKS_FOR_PERSON.search(latest):
        return tool_use_message("The customer asked to talk to a person.", preface="Let me get someone for you.")
    return text_message(f"Model answer to: {latest[:80]}")
