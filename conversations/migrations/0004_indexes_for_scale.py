"""Indexes for an org with tens of thousands of sessions and millions of messages (bench figure 5).

- The open queue oldest first and the history newest first each walk an index in order.
- History search ("what was said", contact names) is a substring match (`icontains`, which
  PostgreSQL runs as `UPPER(col) LIKE UPPER('%…%')`): a trigram GIN index on the same
  expression answers it without reading every message. PostgreSQL only (pg_trgm is a trusted
  extension: the database owner may create it); the embedded SQLite default scans instead.
"""

from django.db import migrations, models

TRIGRAM_INDEXES = {
    "message_text_trigram": ("conversations_message", "text"),
    "contact_name_trigram": ("conversations_contact", "display_name"),
}


def create_trigram_indexes(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    for name, (table, column) in TRIGRAM_INDEXES.items():
        schema_editor.execute(f"CREATE INDEX IF NOT EXISTS {name} ON {table} USING gin (UPPER({column}) gin_trgm_ops)")


def drop_trigram_indexes(apps, schema_editor):
    # The extension stays: something else may use it.
    if schema_editor.connection.vendor != "postgresql":
        return
    for name in TRIGRAM_INDEXES:
        schema_editor.execute(f"DROP INDEX IF EXISTS {name}")


class Migration(migrations.Migration):

    dependencies = [
        ("conversations", "0003_message_delivered_parts"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="handoffsession",
            index=models.Index(condition=models.Q(("status__in", ["active", "queued"])),
                               fields=["organization", "queued_at", "id"], name="open_sessions_by_queued_at"),
        ),
        migrations.AddIndex(
            model_name="handoffsession",
            index=models.Index(condition=models.Q(("closed_at__isnull", False)),
                               fields=["organization", "-closed_at", "-id"], name="closed_sessions_newest_first"),
        ),
        migrations.RunPython(create_trigram_indexes, drop_trigram_indexes, elidable=False),
    ]
