"""Settings for the test suite: real PostgreSQL and real Redis, as in production.

Override DATABASE_URL / REDIS_URL to point elsewhere. Each pytest-xdist worker gets
its own database (pytest-django) and its own channel-layer prefix and task queue.
"""

import base64
import os
import secrets

os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/handoff")
os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/0")
os.environ.setdefault("SECRET_KEY", secrets.token_urlsafe(50))
# A Fernet key of the run's own, in the environment so the worker and web processes a test
# starts (tests/cluster.py, tests/browser/live.py) decrypt what this process stored.
os.environ.setdefault("FIELD_ENCRYPTION_KEYS", base64.urlsafe_b64encode(secrets.token_bytes(32)).decode())
_worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
# pytest-xdist's workers inherit the controller's environment, names included: a name made for
# another pytest process is not this one's (the processes a test starts keep their parent's).
for _variable in ("CHANNEL_LAYER_PREFIX", "Q_CLUSTER_NAME"):
    if os.environ.get(_variable, "").startswith("handoff-test-") \
            and not os.environ[_variable].startswith(f"handoff-test-{_worker}-"):
        del os.environ[_variable]
os.environ.setdefault("CHANNEL_LAYER_PREFIX", f"handoff-test-{_worker}-{secrets.token_hex(3)}")
os.environ.setdefault("Q_CLUSTER_NAME", f"handoff-test-{_worker}-{secrets.token_hex(3)}")

from .settings import *  # noqa: E402,F403

DEBUG = False
ALLOWED_HOSTS = ["testserver", "localhost", "127.0.0.1"]
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = os.environ.get("TEST_EMAIL_BACKEND", "django.core.mail.backends.locmem.EmailBackend")
STORAGES["staticfiles"]["BACKEND"] = "django.contrib.staticfiles.storage.StaticFilesStorage"  # noqa: F405
WHITENOISE_USE_FINDERS = True
WEBHOOKS_ALLOW_PRIVATE_ADDRESSES = True  # the test receivers listen on 127.0.0.1
ANTHROPIC_API_KEY = ""  # tests opt in to the fake Messages API server explicitly
ANTHROPIC_BASE_URL = None
ANTHROPIC_MAX_RETRIES = 1
# Tasks run in-process, except in a real cluster started by a test (tests/cluster.py).
Q_CLUSTER = {**Q_CLUSTER, "sync": not os.environ.get("HANDOFF_REAL_CLUSTER")}  # noqa: F405
LOGGING["root"]["level"] = "WARNING"  # noqa: F405
# A test database per run: two suites on one machine (two checkouts, or an editor's test
# runner beside a terminal) never drop each other's database.
DATABASES["default"]["TEST"] = {"NAME": f"test_{DATABASES['default']['NAME']}_{os.getpid()}"}  # noqa: F405
# Connections are closed at the end of each request, as before production kept them: tests
# make requests from threads of their own, whose kept connections would outlive the test
# database (it cannot be dropped while a session is open). A web process a test starts on a
# database of its own may keep them, as in production (TEST_DB_CONN_MAX_AGE).
DATABASES["default"]["CONN_MAX_AGE"] = int(os.environ.get("TEST_DB_CONN_MAX_AGE", "0"))  # noqa: F405
