"""The worker's minute sweep: reminders, expiries, lost AI turns and deliveries that are due."""

from django.db import migrations
from django.utils import timezone

SWEEP_NAME = "handoff-minute-sweep"


def create_sweep(apps, schema_editor):
    Schedule = apps.get_model("django_q", "Schedule")
    Schedule.objects.update_or_create(
        name=SWEEP_NAME,
        defaults={
            "func": "conversations.tasks.sweep",
            "schedule_type": "I",  # Schedule.MINUTES
            "minutes": 1,
            "repeats": -1,
            "next_run": timezone.now(),
        },
    )


def delete_sweep(apps, schema_editor):
    apps.get_model("django_q", "Schedule").objects.filter(name=SWEEP_NAME).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("conversations", "0001_initial"),
        ("django_q", "0019_alter_task_options_alter_ormq_key_alter_ormq_lock_and_more"),
    ]

    operations = [migrations.RunPython(create_sweep, delete_sweep)]
