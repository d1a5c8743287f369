"""Figure 3, escalation: a Telegram user in AI mode writes "human please"; measured until the
queued session has appeared in every open inbox of the organization (five tabs: two of
ana's, two of ben's, the owner's). The AI turn runs in the worker, offline (no
ANTHROPIC_API_KEY): the offline guard confirms, the extractive summary is written, the
session is queued and announced. One escalation at a time, each in a new conversation."""

import asyncio
import secrets
import time

from bench.perf.load import percentile
from bench.perf.platform_clients import InboxSocket, TelegramUser, TimedTelegram, queued_session_id
from bench.perf.rows import row
from bench.perf.stack import product_stack

TABS = ["ana", "ana", "ben", "ben", "admin"]
# The worker has delivered the previous escalation's "queued" notice by then.
IDLE_GAP = 0.2


async def _escalations(stack, count: int) -> list[dict]:
    web_url = stack.web_urls[0]
    cookies = {username: stack.login(username) for username in set(TABS)}
    tabs = [await InboxSocket.open(web_url, cookies[username]) for username in TABS]
    trials = []
    try:
        for _ in range(count):
            await asyncio.sleep(IDLE_GAP)
            chat_id = 800_000_000 + secrets.randbelow(100_000_000)
            user = TelegramUser(web_url, stack.seed, chat_id)
            seen = [asyncio.ensure_future(tab.receive_until(
                lambda frame, chat_id=chat_id: queued_session_id(frame, chat_id) is not None, timeout=60))
                for tab in tabs]
            sent = time.perf_counter()
            await asyncio.to_thread(user.say, "human please")
            answered = time.perf_counter()
            arrivals = [frame["received_at"] for frame in await asyncio.gather(*seen)]
            trials.append({"webhook_ms": (answered - sent) * 1000,
                           "first_ms": (min(arrivals) - sent) * 1000, "all_ms": (max(arrivals) - sent) * 1000})
    finally:
        for tab in tabs:
            await tab.close()
    return trials


def run(quick: bool) -> list[dict]:
    # The Pro plan allows 100 open sessions at once: every trial leaves one queued.
    count, warm_up = (15, 3) if quick else (90, 5)
    with TimedTelegram() as telegram:
        with product_stack(extra_env={"TELEGRAM_API_BASE_URL": telegram.url}) as stack:
            asyncio.run(_escalations(stack, warm_up))
            trials = asyncio.run(_escalations(stack, count))
    figure = "3 escalation"
    every_tab = sorted(trial["all_ms"] for trial in trials)
    webhook = sorted(trial["webhook_ms"] for trial in trials)
    return [
        row(figure, f"\"human please\" → queued in all {len(TABS)} inboxes p50 (ms)", percentile(every_tab, 0.50),
            escalations=count),
        row(figure, f"\"human please\" → queued in all {len(TABS)} inboxes p99 (ms)", percentile(every_tab, 0.99)),
        row(figure, "webhook answered p50 (ms)", percentile(webhook, 0.50)),
        row(figure, "webhook answered p99 (ms)", percentile(webhook, 0.99)),
    ]
