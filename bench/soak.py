"""Soak: minutes of mixed traffic against the product as the Procfile runs it (daphne + a
qcluster on a fresh PostgreSQL database, bench/perf/stack.py), sampling every 10 s the memory
of the web and worker processes, their open connections (PostgreSQL, Redis, sockets) and the
task queue's depth. Verdict: stable when nothing grows beyond noise from the first third of
the run to the last.

    .venv/bin/python bench/soak.py [--minutes 10] [--json]

Traffic: Telegram users write through the webhook (a greeting, a question, and one in three
asks for a person), widget visitors chat on their websocket, a teammate on the inbox socket
accepts two of three waiting sessions, replies and resolves; the rest expire (the agent's
deadlines are set to 1 minute for the reminder and 2 for the expiry). Replies go to a fake
Telegram on 127.0.0.1. On demand only, not in CI.
"""

import argparse
import asyncio
import itertools
import json
import random
import statistics
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import psutil  # noqa: E402
import psycopg  # noqa: E402
import redis  # noqa: E402
import requests  # noqa: E402
from websockets.asyncio.client import connect  # noqa: E402

from bench.perf.platform_clients import TimedTelegram  # noqa: E402
from bench.perf.scenario import inbox_headers, socket_url, telegram_update  # noqa: E402
from bench.perf.stack import REDIS_URL, product_stack  # noqa: E402
from bench.report import emit, format_table  # noqa: E402

SAMPLE_EVERY = 10.0
TELEGRAM_USERS = 4
WIDGET_VISITORS = 2
ACCEPT_SHARE = 2 / 3
COLUMNS = ["t", "web_rss_mb", "worker_rss_mb", "pg_connections", "redis_clients", "web_sockets", "queue_depth",
           "messages", "handoffs"]
# What "no upward trend beyond noise" allows from the first third of the run to the last.
TOLERANCE = {"web_rss_mb": (0.10, 8.0), "worker_rss_mb": (0.10, 8.0), "pg_connections": (0.0, 3.0),
             "redis_clients": (0.0, 5.0), "web_sockets": (0.0, 6.0), "queue_depth": (0.0, 10.0)}


@dataclass
class Counts:
    messages: int = 0
    webhook_errors: int = 0
    widget_answers: int = 0
    escalations: int = 0
    accepted: int = 0
    replies: int = 0
    resolved: int = 0
    expired: int = 0
    errors: list[str] = field(default_factory=list)


def tree_rss_mb(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        try:
            process = psutil.Process(pid)
            for member in [process, *process.children(recursive=True)]:
                try:
                    total += member.memory_info().rss
                except psutil.NoSuchProcess:
                    pass
        except psutil.NoSuchProcess:
            pass
    return total / 2**20


def open_sockets(pids: list[int], *, to_port: int | None = None) -> int:
    """Internet sockets of these processes and their children (to one remote port, if given)."""
    count = 0
    for pid in pids:
        try:
            process = psutil.Process(pid)
            members = [process, *process.children(recursive=True)]
        except psutil.NoSuchProcess:
            continue
        for member in members:
            try:
                connections = member.net_connections(kind="inet")
            except psutil.NoSuchProcess:
                continue
            count += sum(1 for c in connections if to_port is None or (c.raddr and c.raddr.port == to_port))
    return count


class Sampler(threading.Thread):
    def __init__(self, stack, counts: Counts) -> None:
        super().__init__(daemon=True)
        self.stack, self.counts = stack, counts
        self.samples: list[dict] = []
        self.stopped = threading.Event()
        self.started = time.monotonic()
        self.database = urlsplit(stack.database_url).path.lstrip("/")
        self.queue_key = f"django_q:{stack.env['Q_CLUSTER_NAME']}:q"
        self.redis = redis.Redis.from_url(REDIS_URL)
        self.redis_port = urlsplit(REDIS_URL).port or 6379

    def run(self) -> None:
        while not self.stopped.wait(SAMPLE_EVERY):
            self.samples.append(self.sample())

    def sample(self) -> dict:
        with psycopg.connect(self.stack.database_url) as connection:
            pg = connection.execute("SELECT count(*) - 1 FROM pg_stat_activity WHERE datname = %s",
                                    [self.database]).fetchone()[0]
        return {
            "t": round(time.monotonic() - self.started),
            "web_rss_mb": round(tree_rss_mb(self.stack.web_pids), 1),
            "worker_rss_mb": round(tree_rss_mb(self.stack.worker_pids), 1),
            "pg_connections": pg,
            # Counted on this stack's processes: the Redis server is shared with others.
            "redis_clients": open_sockets(self.stack.web_pids + self.stack.worker_pids, to_port=self.redis_port),
            "web_sockets": open_sockets(self.stack.web_pids),
            "queue_depth": self.redis.llen(self.queue_key),
            "messages": self.counts.messages,
            "handoffs": self.counts.escalations,
        }


def verdict(samples: list[dict]) -> dict:
    """Per metric: the mean of the last third against the first third (the first sample,
    warm-up, left out)."""
    usable = samples[1:] if len(samples) > 3 else samples
    third = max(1, len(usable) // 3)
    result = {}
    for metric, (relative, absolute) in TOLERANCE.items():
        first = statistics.mean(sample[metric] for sample in usable[:third])
        last = statistics.mean(sample[metric] for sample in usable[-third:])
        allowed = max(absolute, relative * first)
        result[metric] = {"first": round(first, 1), "last": round(last, 1), "growth": round(last - first, 1),
                          "allowed": round(allowed, 1), "stable": last - first <= allowed}
    return result


# --- traffic -------------------------------------------------------------------------------------

QUESTIONS = ["hi", "Where is my parcel? Order 55{n:04d}.", "How do I change my address?",
             "Can I return shoes after 30 days?", "thanks"]


async def telegram_user(stack, index: int, counts: Counts, until: float) -> None:
    channel = stack.channel("telegram")
    url = stack.webhook_urls("telegram")[0]
    message_ids = itertools.count(1)
    http = requests.Session()
    for chat in itertools.count():
        if time.monotonic() >= until:
            return
        chat_id = 7_200_000_000 + index * 100_000 + chat  # a new user each round
        texts = [text.format(n=chat) for text in random.sample(QUESTIONS, 2)]
        if random.random() < 1 / 3:
            texts.append("human please")
        for text in texts:
            body, headers = telegram_update(chat_id=chat_id, message_id=next(message_ids) + index * 10**7, text=text,
                                            secret_token=channel["secret_token"])
            try:
                response = await asyncio.to_thread(http.post, url, data=body, headers=headers, timeout=30)
                ok = response.status_code == 200
            except requests.RequestException:
                ok = False
            counts.messages += 1
            counts.webhook_errors += not ok
            await asyncio.sleep(random.uniform(0.5, 2.0))


async def widget_visitor(stack, counts: Counts, until: float) -> None:
    web = stack.web_urls[0]
    key = stack.seed["widget"]["key"]
    while time.monotonic() < until:
        try:
            async with connect(socket_url(web, f"/ws/widget/{key}/"), additional_headers={"Origin": web},
                               open_timeout=20) as socket:
                await socket.recv()  # hello
                for number, text in enumerate(random.sample(QUESTIONS, 3)):
                    await socket.send(json.dumps({"type": "message", "text": text.format(n=number),
                                                  "client_id": f"{time.time_ns()}"}))
                    counts.messages += 1
                    async with asyncio.timeout(30):
                        while True:
                            frame = json.loads(await socket.recv())
                            if frame.get("type") == "message" and frame["message"]["author_kind"] == "ai":
                                counts.widget_answers += 1
                                break
                    await asyncio.sleep(random.uniform(0.5, 2.0))
        except (OSError, TimeoutError, Exception) as exc:  # noqa: B014 - counted, the soak goes on
            counts.errors.append(f"widget: {type(exc).__name__}")
            await asyncio.sleep(1)


async def teammate(stack, counts: Counts, until: float) -> None:
    web = stack.web_urls[0]
    cookie = await asyncio.to_thread(stack.login, "ana")
    request_ids = itertools.count(1)
    while time.monotonic() < until:
        try:
            async with connect(socket_url(web), additional_headers=inbox_headers(web, cookie), max_size=None,
                               open_timeout=20) as socket:
                waiting: asyncio.Queue = asyncio.Queue()
                answers: dict[str, asyncio.Future] = {}

                async def read() -> None:
                    async for raw in socket:
                        frame = json.loads(raw)
                        kind = frame.get("type")
                        if kind == "handoff.queued":
                            counts.escalations += 1
                            await waiting.put(frame["session"]["id"])
                        elif kind == "handoff.expired":
                            counts.expired += 1
                        elif frame.get("request_id") in answers:
                            answers.pop(frame["request_id"]).set_result(frame)

                async def act(action: str, **fields) -> dict:
                    request_id = f"soak-{next(request_ids)}"
                    answers[request_id] = asyncio.get_running_loop().create_future()
                    await socket.send(json.dumps({"type": action, "request_id": request_id, **fields}))
                    return await asyncio.wait_for(answers[request_id], 30)

                reader = asyncio.create_task(read())
                try:
                    while time.monotonic() < until:
                        try:
                            session_id = await asyncio.wait_for(waiting.get(), 1)
                        except TimeoutError:
                            continue
                        if random.random() >= ACCEPT_SHARE:
                            continue  # nobody takes it: it expires
                        if (await act("accept", session_id=session_id))["type"] != "result":
                            continue
                        counts.accepted += 1
                        for text in ("Hello, I'm Ana. Let me look.", "Done: it is sorted now."):
                            if (await act("reply", session_id=session_id, text=text))["type"] == "result":
                                counts.replies += 1
                        if (await act("resolve", session_id=session_id))["type"] == "result":
                            counts.resolved += 1
                finally:
                    reader.cancel()
        except Exception as exc:  # noqa: BLE001 - counted, the soak goes on
            counts.errors.append(f"teammate: {type(exc).__name__}")
            await asyncio.sleep(1)


async def traffic(stack, counts: Counts, seconds: float) -> None:
    until = time.monotonic() + seconds
    await asyncio.gather(
        *(telegram_user(stack, index, counts, until) for index in range(TELEGRAM_USERS)),
        *(widget_visitor(stack, counts, until) for _ in range(WIDGET_VISITORS)),
        teammate(stack, counts, until),
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of the table")
    options = parser.parse_args()
    counts = Counts()
    with TimedTelegram() as telegram, product_stack(
            web_processes=1, workers=1, extra_env={"TELEGRAM_API_BASE_URL": telegram.url}) as stack:
        stack.manage("shell", "-c", "from conversations.models import AIAgent; "
                                    "AIAgent.objects.update(reminder_after_minutes=1, expire_after_minutes=2)")
        sampler = Sampler(stack, counts)
        sampler.samples.append(sampler.sample())
        sampler.start()
        asyncio.run(traffic(stack, counts, options.minutes * 60))
        sampler.stopped.set()
        sampler.join()
        sampler.samples.append(sampler.sample())
        replies_at_platform = len(telegram.calls("sendMessage"))
    samples = sampler.samples
    checks = verdict(samples)
    stable = all(check["stable"] for check in checks.values())
    activity = {"minutes": options.minutes, "messages": counts.messages, "webhook_errors": counts.webhook_errors,
                "widget_answers": counts.widget_answers, "handoffs": counts.escalations,
                "accepted": counts.accepted, "teammate_replies": counts.replies, "resolved": counts.resolved,
                "expired": counts.expired, "telegram_replies_sent": replies_at_platform,
                "client_errors": len(counts.errors)}
    lines = [format_table(samples, COLUMNS), "",
             "traffic: " + ", ".join(f"{name} {value}" for name, value in activity.items()), "",
             format_table([{"metric": metric, **check} for metric, check in checks.items()],
                          ["metric", "first", "last", "growth", "allowed", "stable"]), "",
             f"verdict: {'stable' if stable else 'NOT stable'}"]
    emit({"samples": samples, "activity": activity, "trend": checks, "stable": stable,
          "client_errors": counts.errors[:20]}, as_json=options.json, table="\n".join(lines))
    return 0 if stable else 1


if __name__ == "__main__":
    sys.exit(main())
