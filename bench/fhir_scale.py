"""Issue 18: the FHIR export streams in constant memory, and the API's searches keep a flat query count.

1. `manage.py export_fhir --trial NCT07063680 --site DIJ --format ndjson` run as a separate process on a site of
   10^2 consent records, then of 10^4; its peak RSS (the child's own `ru_maxrss`, from `os.wait4`) at each size.
   Target: the 10^4 peak within 1.5x of the 10^2 one.
2. `GET /fhir/R5/Consent?_count=100` and `GET /fhir/R5/ResearchSubject?_count=100` with a sponsor's bearer token,
   through Django's test client (whole middleware stack, audit entry included), and the last page of each
   (`_offset` near the end): query count and time at 10^2 and 10^4 records. Target: the same query count.

The demo world is loaded (sites DIJ, LIL, REN; twelve participants with signed consents); DIJ is topped up with
participants, each with a copy of a demo consent record (its signed PDF file shared, so every record's hash and size
are computed from a real file) through bulk_create.

Run: .venv/bin/python bench/fhir_scale.py [--postgres]. SQLite temporary file by default; --postgres uses the
scratch database named by BENCH_DB (default `bench`, dropped and created anew).
"""

import argparse
import os
import secrets
import subprocess  # noqa: S404 (manage.py with fixed arguments)
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import _support as s  # noqa: E402

SMALL, LARGE = 100, 10_000
RSS_TARGET = 1.5


def top_up(site, template, total: int) -> None:
    """Participants of `site` with one consent record each (a copy of `template`) up to `total` consent records."""
    from consent.models import ConsentRecord, Participant

    have = ConsentRecord.objects.filter(participant__site=site).count()
    number = Participant.objects.filter(site=site).order_by("-number").values_list("number", flat=True).first() or 0
    while have < total:
        batch = min(1000, total - have)
        made = Participant.objects.bulk_create([
            Participant(site=site, number=number + i + 1, code=f"{site.code}-{number + i + 1:05d}",
                        status=Participant.Status.INCLUDED, created_by=template.obtained_by)
            for i in range(batch)])
        rows = []
        for participant in made:
            row = ConsentRecord.objects.get(pk=template.pk)
            row.pk, row.participant, row.sequence = None, participant, 1
            row.pdf_sha256, row.verification_token = secrets.token_hex(32), secrets.token_hex(12)
            rows.append(row)
        ConsentRecord.objects.bulk_create(rows)
        number += batch
        have += batch


def export_peak_rss(env: dict, folder: Path) -> tuple[int, float, int]:
    """(peak RSS in KiB, seconds, lines of Consent.ndjson) of one export_fhir process."""
    started = time.perf_counter()
    process = subprocess.Popen(  # noqa: S603
        [s.PYTHON, "manage.py", "export_fhir", "--trial", "NCT07063680", "--site", "DIJ", "--format", "ndjson",
         "--out", str(folder)], cwd=s.ROOT, env=env, stdout=subprocess.DEVNULL)
    _pid, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - started
    if status != 0:
        raise SystemExit(f"export_fhir failed ({status})")
    with (folder / "Consent.ndjson").open("rb") as handle:
        lines = sum(1 for _ in handle)
    return usage.ru_maxrss, seconds, lines


def api_calls(client, raw: str, total: int) -> list[tuple[str, int, float, int]]:
    """(url, queries, seconds, entries) of the API calls measured."""
    import json

    found = []
    for url in ("/fhir/R5/Consent?_count=100", f"/fhir/R5/Consent?_count=100&_offset={max(0, total - 50)}",
                "/fhir/R5/ResearchSubject?_count=100", "/fhir/R5/Consent?_count=100&status=active&date=ge2000"):
        client.get(url, HTTP_AUTHORIZATION=f"Bearer {raw}")  # warm-up
        with s.query_log() as log:
            started = time.perf_counter()
            response = client.get(url, HTTP_AUTHORIZATION=f"Bearer {raw}")
            seconds = time.perf_counter() - started
        if response.status_code != 200:
            raise SystemExit(f"{url}: {response.status_code} {response.content[:300]!r}")
        found.append((url, len(log.entries), seconds, len(json.loads(response.content).get("entry", []))))
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--postgres", action="store_true")
    args = parser.parse_args()
    env = s.setup_django(database="postgres" if args.postgres else "sqlite")
    s.load_demo_world(with_records=True)

    from django.contrib.auth import get_user_model
    from django.test import Client

    from consent.models import ConsentRecord
    from regulatory.models import InvestigationalSite, TrialPage
    from regulatory.services.api_tokens import api_token_issue

    trial = TrialPage.objects.get(nct_number="NCT07063680")
    dij = InvestigationalSite.objects.get(trial=trial, code="DIJ")
    template = ConsentRecord.objects.filter(participant__site=dij).order_by("pk").first()
    sponsor = get_user_model().objects.get(username="sponsor")
    raw = api_token_issue(actor=None, user=sponsor, trial=trial, days=1)[1]
    client = Client(SERVER_NAME="127.0.0.1")
    from django.conf import settings

    settings.FHIR_API_THROTTLE = {"WINDOW_SECONDS": 60, "MAX_PER_TOKEN": 10_000, "MAX_FAILURES_PER_ADDRESS": 20}

    s.print_machine()
    results = {}
    for size in (SMALL, LARGE):
        top_up(dij, template, size)
        with tempfile.TemporaryDirectory(dir=s.run_dir()) as folder:
            rss, seconds, lines = export_peak_rss(env, Path(folder))
        results[size] = {"rss": rss, "seconds": seconds, "lines": lines, "api": api_calls(client, raw, size)}

    small, large = results[SMALL], results[LARGE]
    ratio = large["rss"] / small["rss"]
    print(s.table("NDJSON export of site DIJ (export_fhir, separate process)",
                  ["consent records", "Consent.ndjson lines", "peak RSS (MiB)", "time (s)"],
                  [[size, r["lines"], f"{r['rss'] / 1024:.1f}", f"{r['seconds']:.1f}"] for size, r in results.items()]))
    print(f"peak RSS ratio 10^4 / 10^2: {ratio:.2f}x (target <= {RSS_TARGET}x): "
          f"{'MET' if ratio <= RSS_TARGET else 'MISSED'}")
    rows, flat = [], True
    for (url, q_small, t_small, n_small), (_u, q_large, t_large, n_large) in zip(small["api"], large["api"],
                                                                                 strict=True):
        flat &= q_small == q_large
        rows.append([url, q_small, q_large, s.ms(t_small), s.ms(t_large), n_small, n_large])
    print(s.table("FHIR API with a bearer token (test client, whole middleware stack)",
                  ["URL", "queries 10^2", "queries 10^4", "time 10^2", "time 10^4", "entries 10^2", "entries 10^4"],
                  rows))
    print(f"query count flat from 10^2 to 10^4: {'MET' if flat else 'MISSED'}")


if __name__ == "__main__":
    main()
