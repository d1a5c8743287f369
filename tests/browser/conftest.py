from tests.browser.live import browser_page, running_web, telegram  # noqa: F401
