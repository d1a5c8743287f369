"""django-q2's `qcluster`, with every app's task module imported before the cluster forks.

A worker process imports a task's module when it runs its first task: for
`conversations.tasks` (the model SDK, pydantic, aiohttp: about 3,000 modules) that is 1.5 s
of CPU, spent by each of the cluster's workers after every start and every recycle, while
the web process on the same cores is serving webhooks (bench/perf, figure 1: a 150-350 ms
stall of every request in flight, twice in each 60 s run). Imported here, once, the forked
workers inherit the modules; frozen out of the collector's sight, their pages stay shared.
"""

import gc

from django.utils.module_loading import autodiscover_modules
from django_q.management.commands.qcluster import Command as QClusterCommand


class Command(QClusterCommand):
    def handle(self, *args, **options):
        autodiscover_modules("tasks")
        gc.freeze()
        return super().handle(*args, **options)
