"""Model fields whose column holds a Fernet token, never the value (channels_gateway.encryption).

Why not django-fernet-encrypted-fields: its keys are derived from SECRET_KEY (no key of
their own), its JSON field encrypts only the values (the credential names stay readable),
and a value it cannot decrypt is handed back as the ciphertext, silently.

Decryption happens when the row is loaded, but a failure does not raise there: loading a
connection must still work (the webhook view finds it by key, the admin lists it). The
field's value is then `Unreadable`, which keeps the stored token (saving the row's other
fields never destroys it) and raises `CredentialsUnreadable` the moment anything reads it.
"""

import json

from django.db import models

from channels_gateway.encryption import CredentialsUnreadable, decrypt_text, encrypt_text

FERNET_TOKEN_PREFIX = "gAAAAA"  # version byte 0x80 and a timestamp's high bytes, base64


class Unreadable:
    """A stored value no configured key decrypts. Reading it in any way raises."""

    __slots__ = ("ciphertext", "where")

    def __init__(self, ciphertext: str, where: str) -> None:
        self.ciphertext, self.where = ciphertext, where

    def _refuse(self, *args, **kwargs):
        raise CredentialsUnreadable(self.where)

    __bool__ = __len__ = __iter__ = __contains__ = __getitem__ = _refuse

    def __getattr__(self, name: str):
        # What a credential offers (`.get`, `.encode`, `.strip`…) refuses; anything else is
        # absent, as hasattr() probes (Django's `resolve_expression`, copy's hooks) expect.
        if not name.startswith("__") and (hasattr(dict, name) or hasattr(str, name)):
            self._refuse()
        raise AttributeError(name)

    def __repr__(self) -> str:
        return "<unreadable credentials>"

    __str__ = __repr__


class _EncryptedField(models.TextField):
    """Stores `encrypt(serialise(value))` as text; `serialise`/`deserialise` say what a value is."""

    def serialise(self, value) -> str:
        raise NotImplementedError

    def deserialise(self, text: str):
        raise NotImplementedError

    @property
    def where(self) -> str:
        return f"{self.model._meta.label}.{self.name}"

    def from_db_value(self, value, expression, connection):
        if value is None:
            return None
        try:
            return self.deserialise(decrypt_text(value, where=self.where))
        except CredentialsUnreadable:
            return Unreadable(value, self.where)

    def get_prep_value(self, value):
        if value is None:
            return None
        if isinstance(value, Unreadable):
            return value.ciphertext
        return encrypt_text(self.serialise(value))

    def to_python(self, value):
        """Deserialisation (loaddata) reads what `value_to_string` wrote: a token."""
        if isinstance(value, str) and value.startswith(FERNET_TOKEN_PREFIX):
            return self.deserialise(decrypt_text(value, where=self.where))
        return value

    def value_to_string(self, obj):
        """Serialisation (dumpdata) writes the token: no plaintext credential in a dump either."""
        return self.get_prep_value(self.value_from_object(obj))

    def get_internal_type(self):
        return "TextField"


class EncryptedJSONField(_EncryptedField):
    """A JSON object of credentials (bot tokens, signing secrets), encrypted as one token:
    the credentials' names are not readable in the column either. No lookups into it."""

    def serialise(self, value) -> str:
        return json.dumps(value, separators=(",", ":"))

    def deserialise(self, text: str):
        return json.loads(text)


class EncryptedTextField(_EncryptedField):
    """One secret string (a webhook signing secret)."""

    def serialise(self, value) -> str:
        return str(value)

    def deserialise(self, text: str):
        return text
