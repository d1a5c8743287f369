from tests.cluster import real_task_queue  # noqa: F401
