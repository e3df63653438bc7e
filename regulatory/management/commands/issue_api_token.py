from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management.base import BaseCommand, CommandError

from regulatory.models import InvestigationalSite
from regulatory.services.api_tokens import DEFAULT_DAYS, api_token_issue

from .tmf_index import trial_or_error


def user_or_error(username: str):
    user = get_user_model().objects.filter(username=username).first()
    if user is None:
        raise CommandError(f"No account named {username!r}.")
    return user


class Command(BaseCommand):
    help = ("Issue a read-only FHIR API token for a program, scoped to a trial or one of its sites. The token is "
            "printed once, on the last line; only its hash is stored.")

    def add_arguments(self, parser):
        parser.add_argument("--user", required=True, help="the account the token reads as (it reads no more)")
        parser.add_argument("--trial", required=True, help="NCT number, e.g. NCT07063680")
        parser.add_argument("--site", default="", help="a site code (e.g. DIJ): the token reads that site only")
        parser.add_argument("--days", type=int, default=DEFAULT_DAYS, help=f"validity (default {DEFAULT_DAYS})")
        parser.add_argument("--label", default="", help="what the program is (shown in the token list)")
        parser.add_argument("--by", default="", help="the administrator or sponsor issuing it (default: the "
                                                      "operator at the command line)")

    def handle(self, *args, user: str, trial: str, site: str, days: int, label: str, by: str, **options):
        account = user_or_error(user)
        trial_page = trial_or_error(trial)
        site_obj = None
        if site:
            site_obj = InvestigationalSite.objects.filter(trial=trial_page, code=site.strip().upper()).first()
            if site_obj is None:
                raise CommandError(f"No site {site!r} in {trial_page.nct_number}.")
        actor = user_or_error(by) if by else None
        try:
            token, raw = api_token_issue(actor=actor, user=account, trial=trial_page, site=site_obj, days=days,
                                         label=label)
        except PermissionDenied as error:
            raise CommandError(f"{by} may not issue tokens for {trial_page.nct_number}.") from error
        except ValidationError as error:
            raise CommandError(" ".join(error.messages)) from error
        self.stdout.write(f"Token {token.pk} for {account.get_username()} on {trial_page.nct_number}"
                          f"{' site ' + site_obj.code if site_obj else ''}, expires "
                          f"{token.expires_at:%Y-%m-%d %H:%M} UTC (shown once; keep it secret):")
        self.stdout.write(raw)
