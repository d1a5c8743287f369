"""Every minute the worker sends webhook deliveries that are due (retries, lost tasks)."""

from django.db import migrations
from django.utils import timezone

SWEEP_NAME = "webhook-delivery-sweep"


def create_sweep(apps, schema_editor):
    apps.get_model("django_q", "Schedule").objects.update_or_create(
        name=SWEEP_NAME,
        defaults={"func": "channels_gateway.tasks.sweep_webhook_deliveries", "schedule_type": "I", "minutes": 1,
                  "repeats": -1, "next_run": timezone.now()},
    )


def delete_sweep(apps, schema_editor):
    apps.get_model("django_q", "Schedule").objects.filter(name=SWEEP_NAME).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("channels_gateway", "0004_webhooks"),
        ("django_q", "0019_alter_task_options_alter_ormq_key_alter_ormq_lock_and_more"),
    ]

    operations = [migrations.RunPython(create_sweep, delete_sweep)]
