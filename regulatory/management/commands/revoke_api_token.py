from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management.base import BaseCommand, CommandError

from regulatory.models import ApiToken
from regulatory.models.api_tokens import token_digest
from regulatory.services.api_tokens import api_token_revoke

from .issue_api_token import user_or_error


class Command(BaseCommand):
    help = "Revoke a FHIR API token, by its number (as listed) or by its text."

    def add_arguments(self, parser):
        group = parser.add_mutually_exclusive_group(required=True)
        group.add_argument("--id", type=int, help="the token's number")
        group.add_argument("--token", help="the token's text")
        parser.add_argument("--reason", default="", help="why (audited)")
        parser.add_argument("--by", default="", help="the administrator or sponsor revoking it")

    def handle(self, *args, id: int | None, token: str | None, reason: str, by: str, **options):
        found = (ApiToken.objects.filter(pk=id) if id is not None
                 else ApiToken.objects.filter(digest=token_digest(token.strip()))).first()
        if found is None:
            raise CommandError("No such token.")
        actor = user_or_error(by) if by else None
        try:
            api_token_revoke(actor=actor, token=found, reason=reason)
        except PermissionDenied as error:
            raise CommandError(f"{by} may not revoke this token.") from error
        except ValidationError as error:
            raise CommandError(" ".join(error.messages)) from error
        self.stdout.write(f"Token {found.pk} ({found.hint}…) revoked.")
