"""`python manage.py rotate_credentials_key`: re-encrypt stored credentials with the first key."""

from django.core.management.base import BaseCommand, CommandError

from channels_gateway.credential_rotation import credentials_rotate


class Command(BaseCommand):
    help = ("Re-encrypt every channel credential and webhook signing secret with the first of "
            "FIELD_ENCRYPTION_KEYS. Run it after putting a new key first; then remove the old key.")

    def add_arguments(self, parser):
        parser.add_argument("--dry-run", action="store_true",
                            help="Only check that every stored value decrypts with the configured keys.")

    def handle(self, *args, **options):
        result = credentials_rotate(dry_run=options["dry_run"])
        verb = "would be re-encrypted" if options["dry_run"] else "re-encrypted with the first key"
        self.stdout.write(f"{result.rotated} stored credentials {verb}.")
        if result.unreadable:
            raise CommandError(
                f"{len(result.unreadable)} cannot be decrypted with any configured key (left unchanged): "
                f"{', '.join(result.unreadable)}. Add the key they were encrypted with, or type them again."
            )
