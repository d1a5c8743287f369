"""Product scenarios the figures share: Telegram updates, teammates' inbox sockets,
conversations put in human mode through the product itself."""

import asyncio
import itertools
import json
import time

from websockets.asyncio.client import connect

from bench.perf.stack import Stack

# Chat ids of the benchmark's Telegram users (private chats: chat id = user id).
FIRST_CHAT = 7_100_000_000


def socket_url(web_url: str, path: str = "/ws/inbox/") -> str:
    return web_url.replace("http://", "ws://", 1) + path


def inbox_headers(web_url: str, cookie: str) -> dict:
    # The inbox socket checks the Origin against ALLOWED_HOSTS, as a browser tab sends it.
    return {"Cookie": cookie, "Origin": web_url}


def is_snapshot(frame) -> bool:
    return isinstance(frame, dict) and frame.get("type") == "snapshot"


def telegram_update(*, chat_id: int, message_id: int, text: str, secret_token: str,
                    header: str = "X-Telegram-Bot-Api-Secret-Token") -> tuple[bytes, dict]:
    """An Update as the Bot API documents it (a private chat's text message): body, headers."""
    update = {
        "update_id": message_id,
        "message": {
            "message_id": message_id,
            "from": {"id": chat_id, "is_bot": False, "first_name": "Bench", "last_name": "User",
                     "language_code": "en"},
            "chat": {"id": chat_id, "first_name": "Bench", "last_name": "User", "type": "private"},
            "date": int(time.time()),
            "text": text,
        },
    }
    return json.dumps(update).encode(), {"Content-Type": "application/json", header: secret_token}


async def inbox_call(web_url: str, cookie: str, requests: list[dict], timeout: float = 30) -> list[dict]:
    """Send actions on a teammate's inbox socket ({"type": "accept", "session_id": …}, …) and
    return their answers ("result" or "error" frames), in order."""
    request_ids = itertools.count(1)
    answers: dict[str, dict] = {}
    async with connect(socket_url(web_url), additional_headers=inbox_headers(web_url, cookie), max_size=None,
                       open_timeout=20) as socket:
        pending = []
        for request in requests:
            request_id = f"bench-{next(request_ids)}"
            pending.append(request_id)
            await socket.send(json.dumps({**request, "request_id": request_id}))
        deadline = asyncio.get_running_loop().time() + timeout
        while len(answers) < len(pending):
            frame = json.loads(await asyncio.wait_for(socket.recv(), deadline - asyncio.get_running_loop().time()))
            if frame.get("request_id") in pending and frame.get("type") in ("result", "error"):
                answers[frame["request_id"]] = frame
    return [answers[request_id] for request_id in pending]


async def telegram_chats_with_teammate(stack: Stack, *, chats: int, teammate: str = "ana",
                                       web: int = 0) -> tuple[list[dict], str]:
    """`chats` Telegram conversations in human mode, accepted by `teammate` on the inbox
    socket. Returns ([{thread_id, conversation_id, session_id}], the teammate's cookie)."""
    threads = [str(FIRST_CHAT + index) for index in range(chats)]
    sessions = await asyncio.to_thread(stack.human_threads, "telegram", threads)
    cookie = await asyncio.to_thread(stack.login, teammate, web)
    answers = await inbox_call(stack.web_urls[web], cookie,
                               [{"type": "accept", "session_id": session["session_id"]} for session in sessions])
    refused = [answer for answer in answers if answer["type"] != "result"]
    if refused:
        raise RuntimeError(f"accepting the benchmark's sessions failed: {refused[0]}")
    return sessions, cookie
