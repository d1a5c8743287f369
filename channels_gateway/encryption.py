"""The keys that encrypt channel credentials and webhook signing secrets at rest.

Fernet (AES-128-CBC with an HMAC-SHA256, from `cryptography`) under `FIELD_ENCRYPTION_KEYS`,
a list: a MultiFernet encrypts with the first key and decrypts with any of them, so a key is
rotated by putting a new one first, running `manage.py rotate_credentials_key` (every row
re-encrypted with the new key), then dropping the old one.

Without the setting the key is derived from SECRET_KEY (HKDF-SHA256), so the demo and
development need nothing; production is warned at startup, because rotating SECRET_KEY
would then make every stored credential unreadable (SECRET_KEY_FALLBACKS still decrypt).
The derived keys always stay as the last, decrypt-only keys: setting FIELD_ENCRYPTION_KEYS
for the first time keeps what is stored readable until the rotation command re-encrypts it.

A value no configured key opens raises `CredentialsUnreadable` where it is used, never
hands back the ciphertext as if it were the credential (a wrong key would otherwise look
like a wrong bot token, or a forged webhook).
"""

import base64
import logging
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

logger = logging.getLogger(__name__)

DERIVED_KEY_INFO = b"handoff.field-encryption.v1"


class CredentialsUnreadable(Exception):
    """A stored credential that none of FIELD_ENCRYPTION_KEYS decrypts (a missing or wrong key)."""

    def __init__(self, where: str) -> None:
        super().__init__(
            f"{where} cannot be decrypted with the configured FIELD_ENCRYPTION_KEYS: set the key it was "
            "encrypted with (rotation keeps the old key after the new one), or type the credential again."
        )


def _derived_key(secret_key: str) -> bytes:
    material = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=DERIVED_KEY_INFO).derive(
        secret_key.encode())
    return base64.urlsafe_b64encode(material)


@lru_cache(maxsize=8)
def _fernet(keys: tuple[str, ...], secret_key: str, fallbacks: tuple[str, ...]) -> MultiFernet:
    derived = [Fernet(_derived_key(key)) for key in (secret_key, *fallbacks)]
    fernets = []
    for position, key in enumerate(keys, start=1):
        try:
            fernets.append(Fernet(key))
        except ValueError:
            raise ImproperlyConfigured(
                f"FIELD_ENCRYPTION_KEYS: key {position} is not a Fernet key (32 url-safe base64-encoded "
                "bytes). Make one with: python -c \"from cryptography.fernet import Fernet; "
                "print(Fernet.generate_key().decode())\""
            ) from None
    return MultiFernet(fernets + derived)


def field_fernet() -> MultiFernet:
    """The configured keys, read from settings each time (cheap: built once per key set)."""
    return _fernet(
        tuple(getattr(settings, "FIELD_ENCRYPTION_KEYS", None) or ()),
        settings.SECRET_KEY,
        tuple(getattr(settings, "SECRET_KEY_FALLBACKS", None) or ()),
    )


def encrypt_text(plaintext: str) -> str:
    return field_fernet().encrypt(plaintext.encode("utf-8")).decode("ascii")


def decrypt_text(token: str, *, where: str) -> str:
    try:
        return field_fernet().decrypt(token.encode("ascii")).decode("utf-8")
    except (InvalidToken, UnicodeError):  # UnicodeError: not a token at all (plaintext left behind)
        raise CredentialsUnreadable(where) from None


def reencrypt_text(token: str, *, where: str) -> str:
    """The same plaintext under the first key (MultiFernet.rotate)."""
    try:
        return field_fernet().rotate(token.encode("ascii")).decode("ascii")
    except (InvalidToken, UnicodeError):
        raise CredentialsUnreadable(where) from None


def check_keys_at_startup() -> None:
    """A malformed key stops the process at once; a derived key is warned about in production."""
    field_fernet()
    if not getattr(settings, "FIELD_ENCRYPTION_KEYS", None) and not (settings.DEBUG or settings.EMBEDDED):
        logger.warning(
            "FIELD_ENCRYPTION_KEYS is not set: channel credentials and webhook secrets are encrypted with a "
            "key derived from SECRET_KEY, so changing SECRET_KEY would lock them. Set FIELD_ENCRYPTION_KEYS "
            "to your own Fernet key (README, Production) and run manage.py rotate_credentials_key."
        )
