"""django-q2's `qcluster`, with every app's task module imported before the cluster forks.

A worker process imports a task's module when it runs its first task: for
`conversations.tasks` (the model SDK, pydantic, aiohttp: about 3,000 modules) that is 1.5 s
of CPU on the 2-core machine, spent by each of the cluster's workers after every start and
every recycle (500 tasks), on the cores the web process serves webhooks from, and the first
task waits for it. Imported here, once, the forked workers inherit the modules; frozen out
of the collector's sight, their pages stay shared.
"""

import gc

from django.utils.module_loading import autodiscover_modules
from django_q.management.commands.qcluster import Command as QClusterCommand


class Command(QClusterCommand):
    def handle(self, *args, **options):
        autodiscover_modules("tasks")
        gc.freeze()
        return super().handle(*args, **options)
