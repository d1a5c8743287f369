"""Figure 2, teammate → platform: a reply sent on the inbox websocket until the (fake) Telegram
Bot API on 127.0.0.1 receives its `sendMessage`, one reply at a time, with the worker idle
between replies. Also: how long the teammate waits for the reply's result frame."""

import asyncio
import secrets
import time

from bench.perf.platform_clients import InboxSocket, TelegramUser, TimedTelegram, queued_session_id
from bench.perf.stack import product_stack
from bench.perf.load import percentile
from bench.perf.rows import row

# The worker has finished the previous delivery and its result bookkeeping by then.
IDLE_GAP = 0.15


async def _replies(stack, telegram: TimedTelegram, count: int) -> tuple[list[float], list[float]]:
    web_url = stack.web_urls[0]
    socket = await InboxSocket.open(web_url, stack.login("ana"))
    chat_id = 700_000 + secrets.randbelow(100_000)
    user = TelegramUser(web_url, stack.seed, chat_id)
    await asyncio.to_thread(user.say, "human please")
    queued = await socket.receive_until(lambda frame: queued_session_id(frame, chat_id) is not None, timeout=60)
    session_id = queued["session"]["id"]
    await socket.act("accept", session_id=session_id)

    to_platform, to_result = [], []
    run = secrets.token_hex(3)
    for index in range(count):
        await asyncio.sleep(IDLE_GAP)
        text = f"Reply {index} of run {run}"
        telegram.expect(text)
        sent = time.perf_counter()
        result = asyncio.ensure_future(socket.act("reply", session_id=session_id, text=text))
        arrived = await telegram.arrival(text)
        to_platform.append(arrived - sent)
        to_result.append((await result)["received_at"] - sent)
    await socket.close()
    return to_platform, to_result


def run(quick: bool) -> list[dict]:
    count, warm_up = (40, 5) if quick else (300, 20)
    with TimedTelegram() as telegram:
        with product_stack(extra_env={"TELEGRAM_API_BASE_URL": telegram.url}) as stack:
            asyncio.run(_replies(stack, telegram, warm_up))
            to_platform, to_result = asyncio.run(_replies(stack, telegram, count))
    platform_ms = sorted(seconds * 1000 for seconds in to_platform)
    result_ms = sorted(seconds * 1000 for seconds in to_result)
    figure = "2 reply→platform"
    p99 = percentile(platform_ms, 0.99)
    return [
        row(figure, "reply → Telegram sendMessage p50 (ms)", percentile(platform_ms, 0.50), replies=count),
        row(figure, "reply → Telegram sendMessage p99 (ms)", p99, target="< 50 ms", met=p99 < 50),
        row(figure, "reply → its result frame p50 (ms)", percentile(result_ms, 0.50)),
        row(figure, "reply → its result frame p99 (ms)", percentile(result_ms, 0.99)),
    ]
