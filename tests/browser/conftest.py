from tests.browser.live import browser_page, running_web  # noqa: F401
