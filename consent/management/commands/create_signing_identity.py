"""Create (or keep) the demo signing PKI: a demo CA, the sponsor, one certificate per site, a TSA and a CRL."""

from django.core.management.base import BaseCommand, CommandError
from django.db import DatabaseError

from consent import pki
from consent.signing import SigningError

DEFAULT_SPONSOR = "Promoteur TrialDocs (démo)"


class Command(BaseCommand):
    help = (
        "Create the demonstration signing identities in TRIALDOCS_PKI_DIR (kept when present; --force remakes "
        "them). Production signs with TRIALDOCS_SIGNING_P12 instead."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--site", action="append", dest="sites", default=[], metavar="CODE",
            help="Site code to give a certificate (repeatable). Default: every site in the database.",
        )
        parser.add_argument(
            "--sponsor", default="",
            help="Sponsor name in the sponsor certificate. Default: the trials' sponsor when there is only one.",
        )
        parser.add_argument("--force", action="store_true", help="Regenerate every key and certificate.")
        parser.add_argument(
            "--rotate", action="append", default=[], metavar="CODE|sponsor",
            help="Give this site (or the sponsor) a new key and certificate (repeatable). The previous certificate "
                 "stays in the PKI (and its OCSP answers): what it signed keeps verifying.")

    def handle(self, *args, sites, sponsor, force, rotate, **options):
        if pki.production_mode():
            self.stdout.write(self.style.WARNING(
                "TRIALDOCS_SIGNING_P12 is set: signatures use it, and this demo PKI will not be used."
            ))
        site_names = self._site_names()
        codes = sites or sorted(site_names)
        sponsor = sponsor or self._sponsor_name()
        try:
            results = pki.ensure_identities(
                sponsor_name=sponsor, site_codes=codes, site_names=site_names, force=force, rotate=rotate
            )
        except (SigningError, ValueError, OSError) as exc:
            raise CommandError(str(exc)) from exc
        for label, status in results.items():
            style = self.style.SUCCESS if status != "kept" else (lambda text: text)
            self.stdout.write(style(f"{status:<12} {label}"))
        if not codes:
            self.stdout.write("No investigational site found: only the sponsor can sign (use --site CODE).")
        directory = pki.pki_dir()
        self.stdout.write(
            f"Demo PKI in {directory}: certificates *.cert.pem, private keys *.key.pem encrypted (AES-256) with "
            f"the passphrase in {directory / pki.PASSPHRASE_FILE} (0600). For demonstration and tests only."
        )

    def _site_names(self) -> dict[str, str]:
        from regulatory.models import InvestigationalSite

        try:
            return dict(InvestigationalSite.objects.order_by("code").values_list("code", "name"))
        except DatabaseError:
            return {}

    def _sponsor_name(self) -> str:
        from regulatory.models import TrialPage

        try:
            names = set(TrialPage.objects.values_list("sponsor_name", flat=True))
        except DatabaseError:
            names = set()
        return names.pop() if len(names) == 1 else DEFAULT_SPONSOR
