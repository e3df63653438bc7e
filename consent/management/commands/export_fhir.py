from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from pydantic import ValidationError as FhirValidationError

from consent.fhir import export, mapping
from regulatory.management.commands.tmf_index import trial_or_error
from regulatory.models import InvestigationalSite


class Command(BaseCommand):
    help = ("Export a trial's (or a site's, or one participant's) consent records as HL7 FHIR: one R5 Bundle (JSON), "
            "or NDJSON per resource type (FHIR Bulk Data) when --out is a folder or --format ndjson. Participants "
            "appear by their pseudonymised code only.")

    def add_arguments(self, parser):
        # The contract's --version (R5|R4B) replaces Django's own --version (the program's version).
        for group in (parser, *parser._action_groups):
            group.conflict_handler = "resolve"
        parser.add_argument("--trial", required=True, help="NCT number, e.g. NCT07063680")
        parser.add_argument("--site", default="", help="a site code, e.g. DIJ (default: every site)")
        parser.add_argument("--participant", default="", help="one participant's code, e.g. DIJ-0001")
        parser.add_argument("--version", default=mapping.R5, choices=mapping.VERSIONS, help="R5 (default) or R4B")
        parser.add_argument("--format", default="", choices=["", "bundle", "ndjson"],
                            help="bundle (one JSON file) or ndjson (a folder); default: from --out")
        parser.add_argument("--out", required=True, type=Path, help="a .json file, or a folder for NDJSON")
        parser.add_argument("--base-url", default="",
                            help="the fullUrl base of Bundle entries (default TRIALDOCS_FHIR_BASE_URL)")

    def handle(self, *args, trial, site, participant, version, format, out: Path, base_url, **options):
        trial_page = trial_or_error(trial)
        sites = InvestigationalSite.objects.filter(trial=trial_page)
        if site:
            sites = sites.filter(code=site.strip().upper())
            if not sites.exists():
                raise CommandError(f"No site {site!r} in {trial_page.nct_number}.")
        code = participant.strip().upper()
        scope = export.Scope(trial=trial_page, sites=sites, participant_code=code)
        if code and not scope.participants().exists():
            raise CommandError(f"No participant {participant!r} in {trial_page.nct_number}"
                               f"{' at ' + site.upper() if site else ''}.")
        fmt = format or ("ndjson" if out.is_dir() else "bundle")
        base = base_url or getattr(settings, "TRIALDOCS_FHIR_BASE_URL", "") or f"urn:trialdocs:fhir:{version}"
        try:
            if fmt == "ndjson":
                if out.exists() and not out.is_dir():
                    raise CommandError(f"Cannot write NDJSON into {out}: it is a file; give a folder.")
                out.mkdir(parents=True, exist_ok=True)
                written = export.write_ndjson(scope, out, version=version)
            else:
                if out.is_dir():
                    raise CommandError(f"Cannot write a Bundle to {out}: it is a folder; give a .json file name "
                                       "(or --format ndjson).")
                if not out.parent.is_dir():
                    raise CommandError(f"Cannot write {out}: the folder {out.parent} does not exist.")
                written = export.write_bundle(scope, out, version=version, base_url=base)
        except OSError as error:
            raise CommandError(f"Cannot write {out}: {error.strerror or error}") from error
        except FhirValidationError as error:
            raise CommandError(f"A resource does not validate as FHIR {version}, nothing written: {error}") from error
        export.record_export(actor=None, scope=scope, version=version, fmt=fmt, written=written)
        summary = ", ".join(f"{count} {kind}" for kind, count in written.counts.items())
        self.stdout.write(self.style.SUCCESS(
            f"{', '.join(str(path) for path in written.paths)} written (FHIR {version}, {fmt}): {summary}."))
