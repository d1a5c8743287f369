"""handoff_site.realtime.await_from_thread: a thread doing a consumer's database work
publishes on the event loop that lent it, and gives up when that loop stops (daphne on
SIGTERM) instead of keeping the process alive."""

import asyncio
import queue
import threading
import time

import pytest
from asgiref.sync import sync_to_async

from handoff_site.realtime import LOOP_CHECK_SECONDS, EventLoopStopped, await_from_thread


async def double_on_the_loop(number: int) -> tuple[int, asyncio.AbstractEventLoop]:
    return 2 * number, asyncio.get_running_loop()


async def test_the_call_runs_on_the_loop_that_lent_the_thread_and_its_result_comes_back():
    result, ran_on = await sync_to_async(await_from_thread)(double_on_the_loop, 21)
    assert result == 42 and ran_on is asyncio.get_running_loop()


async def refuse():
    raise ValueError("the channel layer said no")


async def test_an_error_on_the_loop_reaches_the_thread():
    with pytest.raises(ValueError, match="said no"):
        await sync_to_async(await_from_thread)(refuse)


def test_without_a_loop_the_call_runs_on_one_of_its_own():
    result, _ = await_from_thread(double_on_the_loop, 4)
    assert result == 8


def test_a_thread_whose_loop_stopped_gives_up_instead_of_waiting_forever():
    loop = asyncio.new_event_loop()
    loop_stopped = threading.Event()
    waited = queue.Queue()

    def database_work():
        loop.call_soon_threadsafe(loop.stop)  # what daphne's reactor does on SIGTERM
        loop_stopped.wait(5)
        started = time.monotonic()
        try:
            await_from_thread(double_on_the_loop, 1)
        except EventLoopStopped:
            waited.put(time.monotonic() - started)

    work = loop.create_task(sync_to_async(database_work, thread_sensitive=False)())
    loop.run_forever()
    loop_stopped.set()
    try:
        assert waited.get(timeout=5) < 2 * LOOP_CHECK_SECONDS
    finally:
        loop.run_until_complete(work)
        loop.close()
