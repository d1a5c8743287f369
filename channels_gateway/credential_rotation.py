"""Re-encrypting every stored credential with the first of FIELD_ENCRYPTION_KEYS.

Rotation: put the new key first in FIELD_ENCRYPTION_KEYS and keep the old one after it
(both decrypt), deploy, run `python manage.py rotate_credentials_key`, then drop the old key.
"""

from dataclasses import dataclass, field

from django.db import connection as db

from channels_gateway.encrypted_fields import FERNET_TOKEN_PREFIX
from channels_gateway.encryption import CredentialsUnreadable, reencrypt_text
from channels_gateway.models import ChannelConnection
from channels_gateway.webhooks import WebhookEndpoint

ENCRYPTED_COLUMNS = [(ChannelConnection, "secrets"), (WebhookEndpoint, "secret")]


@dataclass
class RotationResult:
    rotated: int = 0
    # "<model> <pk>" of rows no configured key decrypts: left as they are.
    unreadable: list[str] = field(default_factory=list)


def credentials_rotate(*, dry_run: bool = False) -> RotationResult:
    """Every encrypted value under the first key. The stored token is read and replaced as it
    is (plain SQL: no plaintext in between), and only if it did not change meanwhile."""
    result = RotationResult()
    quote = db.ops.quote_name
    for model, field_name in ENCRYPTED_COLUMNS:
        table, column = quote(model._meta.db_table), quote(model._meta.get_field(field_name).column)
        with db.cursor() as cursor:
            cursor.execute(f"SELECT id, {column} FROM {table} WHERE {column} IS NOT NULL ORDER BY id")
            rows = cursor.fetchall()
        for pk, token in rows:
            where = f"{model._meta.label} {pk}"
            try:
                if not token.startswith(FERNET_TOKEN_PREFIX):
                    raise CredentialsUnreadable(where)
                new_token = reencrypt_text(token, where=where)
            except CredentialsUnreadable:
                result.unreadable.append(where)
                continue
            if dry_run:
                result.rotated += 1
                continue
            with db.cursor() as cursor:
                cursor.execute(f"UPDATE {table} SET {column} = %s WHERE id = %s AND {column} = %s",
                               [new_token, pk, token])
                result.rotated += cursor.rowcount
    return result
