"""Channel credentials and webhook signing secrets: encrypted at rest (channels_gateway.encryption).

The columns become text, then every stored value is encrypted in place with the first of
FIELD_ENCRYPTION_KEYS (or the key derived from SECRET_KEY). Reversible: backwards decrypts
every value, then the columns get their old types back.

Plain SQL, not the historical models: their fields are the encrypted ones, which cannot
read the plaintext this migration starts from.
"""

import json

from django.db import migrations

import channels_gateway.encrypted_fields
import channels_gateway.webhooks
from channels_gateway.encrypted_fields import FERNET_TOKEN_PREFIX
from channels_gateway.encryption import decrypt_text, encrypt_text

COLUMNS = [
    # (table, column, is JSON)
    ("channels_gateway_channelconnection", "secrets", True),
    ("channels_gateway_webhookendpoint", "secret", False),
]


def _rewrite(schema_editor, change) -> None:
    quote = schema_editor.connection.ops.quote_name
    with schema_editor.connection.cursor() as cursor:
        for table, column, is_json in COLUMNS:
            cursor.execute(f"SELECT id, {quote(column)} FROM {quote(table)}")
            for row_id, value in cursor.fetchall():
                if value is None:
                    continue
                new_value = change(value, is_json=is_json, where=f"{table}.{column} row {row_id}")
                if new_value != value:
                    cursor.execute(f"UPDATE {quote(table)} SET {quote(column)} = %s WHERE id = %s",
                                   [new_value, row_id])


def _encrypted(value, *, is_json: bool, where: str) -> str:
    if isinstance(value, str) and value.startswith(FERNET_TOKEN_PREFIX):
        return value  # already encrypted (a migration run again)
    if is_json:
        plaintext = json.dumps(json.loads(value) if isinstance(value, str) else value, separators=(",", ":"))
    else:
        plaintext = value
    return encrypt_text(plaintext)


def _decrypted(value, *, is_json: bool, where: str) -> str:
    if not value.startswith(FERNET_TOKEN_PREFIX):
        return value
    return decrypt_text(value, where=where)  # CredentialsUnreadable: reversing needs the key


def encrypt_stored(apps, schema_editor) -> None:
    _rewrite(schema_editor, _encrypted)


def decrypt_stored(apps, schema_editor) -> None:
    _rewrite(schema_editor, _decrypted)


class Migration(migrations.Migration):

    dependencies = [
        ('channels_gateway', '0005_webhook_sweep_schedule'),
    ]

    operations = [
        migrations.AlterField(
            model_name='channelconnection',
            name='secrets',
            field=channels_gateway.encrypted_fields.EncryptedJSONField(blank=True, default=dict, editable=False),
        ),
        migrations.AlterField(
            model_name='webhookendpoint',
            name='secret',
            field=channels_gateway.encrypted_fields.EncryptedTextField(
                default=channels_gateway.webhooks.new_webhook_secret, editable=False),
        ),
        migrations.RunPython(encrypt_stored, decrypt_stored, elidable=False),
    ]
