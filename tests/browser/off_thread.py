"""Database work from a browser test: Playwright's event loop runs on the test's thread,
where Django refuses the database, so it runs on a thread of its own."""

from concurrent.futures import ThreadPoolExecutor

from django.db import connection


def closing_connection(func):
    def run(*args):
        try:
            return func(*args)
        finally:
            connection.close()  # the test database is dropped at the end; no session may linger
    return run


def off_the_browser_thread(func, *args):
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(closing_connection(func), *args).result()
