"""Once a day the worker deletes transcripts older than each org's plan keeps."""

from django.db import migrations
from django.utils import timezone

SCHEDULE_NAME = "billing-transcript-retention"


def create_schedule(apps, schema_editor):
    apps.get_model("django_q", "Schedule").objects.update_or_create(
        name=SCHEDULE_NAME,
        defaults={"func": "billing.tasks.apply_retention", "schedule_type": "D", "repeats": -1,
                  "next_run": timezone.now()},
    )


def delete_schedule(apps, schema_editor):
    apps.get_model("django_q", "Schedule").objects.filter(name=SCHEDULE_NAME).delete()


class Migration(migrations.Migration):
    dependencies = [("django_q", "0019_alter_task_options_alter_ormq_key_alter_ormq_lock_and_more")]

    operations = [migrations.RunPython(create_schedule, delete_schedule)]
