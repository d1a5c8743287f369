"""Every minute the worker drops inbox tabs that stopped pinging, so presence goes offline
even when the web process that held them died."""

from django.db import migrations
from django.utils import timezone

SWEEP_NAME = "inbox-stale-tab-sweep"


def create_sweep(apps, schema_editor):
    apps.get_model("django_q", "Schedule").objects.update_or_create(
        name=SWEEP_NAME,
        defaults={"func": "inbox.tasks.sweep_stale_tabs", "schedule_type": "I", "minutes": 1, "repeats": -1,
                  "next_run": timezone.now()},
    )


def delete_sweep(apps, schema_editor):
    apps.get_model("django_q", "Schedule").objects.filter(name=SWEEP_NAME).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("inbox", "0001_initial"),
        ("django_q", "0019_alter_task_options_alter_ormq_key_alter_ormq_lock_and_more"),
    ]

    operations = [migrations.RunPython(create_sweep, delete_sweep)]
