"""Walk the demo's round trip in Chromium against a running server and print how long each
step takes as the people in it see it.

    ./bin/demo &                                    # or any running Handoff with the demo seeded
    .venv/bin/python manage.py seed_demo --json > .demo/seed.json
    .venv/bin/python bench/demo_walk.py --seed .demo/seed.json [--url http://localhost:8000] [--json]

Needs Playwright (requirements-dev.txt) and Debian's chromium (or --chromium PATH).
"""

import argparse
import json
import re
import time

from playwright.sync_api import sync_playwright


def walk(url: str, password: str, chromium: str) -> dict[str, float]:
    timings: dict[str, float] = {}

    def timed(name: str, action, wait) -> None:
        started = time.perf_counter()
        action()
        wait()
        timings[name] = round((time.perf_counter() - started) * 1000, 1)

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, headless=True, args=["--no-sandbox"])
        customer = browser.new_context().new_page()
        customer.set_default_timeout(20_000)
        customer.goto(f"{url}/demo/")
        customer.get_by_test_id("widget-panel").wait_for()
        widget_input = customer.get_by_test_id("widget-input")
        messages = customer.get_by_test_id("widget-message")

        def say(text: str):
            return lambda: (widget_input.fill(text), widget_input.press("Enter"))

        before = messages.count()
        timed("ai_reply_ms", say("hi"), lambda: messages.nth(before + 1).wait_for())

        teammate = browser.new_context().new_page()
        teammate.set_default_timeout(20_000)
        teammate.goto(f"{url}/inbox/")
        teammate.get_by_label("Username").fill("ana")
        teammate.get_by_label("Password").fill(password)
        teammate.get_by_role("button", name=re.compile("log in", re.I)).click()
        teammate.locator("#inbox-app:not(.is-loading)").wait_for()
        waiting = teammate.get_by_test_id("queue-waiting").get_by_test_id("session-item")
        already = waiting.count()

        # Oldest first: the new one is the last of the waiting list.
        timed("request_to_inbox_ms", say("can I talk to a human?"), lambda: waiting.nth(already).wait_for())
        waiting.nth(already).click()
        timed("accept_to_user_ms", lambda: teammate.get_by_test_id("accept").click(),
              lambda: messages.filter(has_text="joined").last.wait_for())
        reply = teammate.get_by_test_id("reply-input")
        timed("teammate_to_user_ms", lambda: (reply.fill("Hello from Ana"), reply.press("Enter")),
              lambda: messages.filter(has_text="Hello from Ana").wait_for())
        transcript = teammate.get_by_test_id("transcript")
        timed("user_to_teammate_ms", say("My parcel never arrived"),
              lambda: transcript.get_by_test_id("message").filter(has_text="My parcel never arrived").wait_for())
        timed("resolve_to_user_ms", lambda: teammate.get_by_test_id("resolve").click(),
              lambda: messages.filter(has_text="handed the conversation back").last.wait_for())
        browser.close()
    return timings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seed", required=True, help="the output of `manage.py seed_demo --json`")
    parser.add_argument("--url", default="http://localhost:8000")
    parser.add_argument("--chromium", default="/usr/bin/chromium")
    parser.add_argument("--json", action="store_true")
    options = parser.parse_args()
    with open(options.seed) as seed:
        password = next(user["password"] for user in json.load(seed)["users"] if user["username"] == "ana")
    timings = walk(options.url.rstrip("/"), password, options.chromium)
    if options.json:
        print(json.dumps(timings))
    else:
        for name, value in timings.items():
            print(f"{name:<24}{value:>10.1f}")


if __name__ == "__main__":
    main()
