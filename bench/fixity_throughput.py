"""Issue 15: throughput of the fixity check (`manage.py verify_archive`) against a bare loop.

N signed PDFs (a consent-record-sized PDF/A sheet signed PAdES by the DIJ site key; `--distinct` different ones,
50 by default, since signing is the slow part, each stored as a file of its own) are filed in the TMF of the demo
trial. No cache is shared between files on either side (a fresh validation context per file). Then, alternated:
- bare loop: for each file, read it, SHA-256 it, and validate its signature with pyHanko alone
  (`validate_pdf_signature`, a ValidationContext with the demo trust roots and CRLs, as `verify_pdf` builds one);
- verify_archive: `consent.fixity.verify_archive(trial=...)`, the very walk of the command (database query, storage,
  size and SHA-256 against the record, the project's `consent.verification.verify_pdf` with all its checks).
Prints files per second of both and the ratio (target: verify_archive at least 80 % of the bare loop).

Run: .venv/bin/python bench/fixity_throughput.py [--count 1000]. Temporary SQLite database and media folder.
"""

import argparse
import datetime
import hashlib
import io
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import _support as s  # noqa: E402

TARGET = 0.8


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--distinct", type=int, default=50,
                        help="signed PDFs made (signing is slow); the N files cycle through them, each its own file")
    args = parser.parse_args()

    s.setup_django(database="sqlite")
    s.load_demo_world(with_records=False)
    s.print_machine()

    from django.core.files.base import ContentFile
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign.validation import validate_pdf_signature
    from pyhanko_certvalidator import ValidationContext

    from consent import fixity, pki
    from consent.signing import SignatureRequest, sign_pdf
    from regulatory import tmf
    from regulatory.models import TmfDocument, TrialPage
    from regulatory.tmf.sheets import record_sheet

    trial = TrialPage.objects.get(nct_number="NCT07063680")
    identity = pki.load_identity(role="site", site_code="DIJ")
    request = SignatureRequest(field_name="Investigateur", reason="Consentement recueilli", location="Dijon, FR")
    artifact = tmf.artifact("02.01.02")
    started = time.perf_counter()
    made = []
    for number in range(min(args.distinct, args.count)):
        unsigned = record_sheet(trial=trial, title=f"Fiche {number:05d}", rows=[("Numéro", str(number))],
                                body="Le participant a donné son consentement éclairé.\n" * 20)
        made.append(sign_pdf(unsigned, identity=identity, request=request))
    for number in range(args.count):
        signed = made[number % len(made)]
        document = TmfDocument(trial=trial, artifact=artifact, level="trial", title=f"Fiche {number}",
                               document_date=datetime.date(2026, 1, 5), file_name=f"fiche-{number}.pdf",
                               sha256=hashlib.sha256(signed).hexdigest())
        document.file.save(f"fiche-{number}.pdf", ContentFile(signed), save=True)
    print(f"{args.count} signed PDFs ({len(made)} distinct) filed in {time.perf_counter() - started:.1f} s "
          f"({len(signed) / 1024:.1f} KiB each)", flush=True)
    paths = [d.file.path for d in TmfDocument.objects.filter(trial=trial).exclude(file="").order_by("pk")]

    def bare() -> int:
        valid = 0
        for path in paths:
            data = Path(path).read_bytes()
            hashlib.sha256(data).hexdigest()
            context = ValidationContext(trust_roots=pki.trust_roots(), crls=pki.crls(), allow_fetching=False)
            signature = PdfFileReader(io.BytesIO(data)).embedded_signatures[0]
            valid += validate_pdf_signature(signature, context).bottom_line
        return valid

    def ours() -> int:
        result = fixity.verify_archive(trial=trial)
        return result.signatures if result.ok else -len(result.problems)

    times = {"bare": [], "ours": []}
    for _ in range(args.rounds):
        for name, run in (("bare", bare), ("ours", ours)):
            started = time.perf_counter()
            outcome = run()
            times[name].append(time.perf_counter() - started)
            if outcome != len(paths):
                print(f"{name}: {outcome} valid of {len(paths)}: the loops do not agree", flush=True)
                return 1
    rows = [[name, f"{len(paths)}", s.ms(min(t)), f"{len(paths) / min(t):.1f}"] for name, t in times.items()]
    s.table(f"verify_archive against a bare read + SHA-256 + pyHanko loop, {len(paths)} signed PDFs, best of "
            f"{args.rounds}", ["loop", "files", "time", "files/s"], rows)
    ratio = min(times["bare"]) / min(times["ours"])
    print(f"verify_archive throughput = {ratio:.0%} of the bare loop (target >= {TARGET:.0%}): "
          f"{'met' if ratio >= TARGET else 'NOT met'}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
