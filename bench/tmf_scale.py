"""Issue 7 (b): TMF browsing and site listings at 10^2 and 10^5 TMF documents (10^2 and 10^4 participants).

Pages, requested in this process through Django's test client (whole middleware stack, templates included):
- TMF home /tmf/NCT07063680/ (documents per zone), as the sponsor;
- an artifact page /tmf/NCT07063680/artifact/<number>/: a typical artifact (02.01.02, about 1/250 of the
  documents) and the largest one (05.04.03 Monitoring Visit Report, 10% of the documents), as the sponsor;
- the search page /tmf/NCT07063680/search/, as first opened (no words) and with words (?q=monitorage), as the
  sponsor;
- the participants list of site DIJ /nct07063680/sites/dij/participants/, as the DIJ coordinator.

The demo world is loaded, documents and participants are topped up with bulk_create to the small size
(10^2 documents, 10^2 participants at DIJ), measured; then to the large size (10^5, 10^4), ANALYZEd, measured
again. For each page: best and median time and query count at each size, the time ratio and whether the query count
is flat. For each page missing a target (every page with `--explain-all`), the slowest queries at the large size are
shown with EXPLAIN ANALYZE.

The fixes that `--try-fixes` used to try in the `bench` database alone (a stored tsvector column with its GIN index,
no site condition for a reader of every site, counts per artifact, listings in the order of tmf_listing_order_idx)
are in the project since 2026-12-02 (regulatory migration 0010, bench/RESULTS.md (b)); the option is kept so that
older command lines still run, and does nothing more.

Issue 19 adds the completeness page, the QC page (with its metrics) and the milestones page, documents with a QC
status (96 % approved, 3 % pending, 1 % rejected), and `--documents N` for the large size (1000000 for 10^6).

Run: .venv/bin/python bench/tmf_scale.py [--repeat N] [--explain-all] [--documents N]. PostgreSQL database `bench`
(made anew).
Targets: flat query count, and within 2x in time (10^5 vs 10^2).
"""

import argparse
import datetime
import gc
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import _support as s  # noqa: E402

TIME_TARGET = 2.0
SMALL_DOCUMENTS, LARGE_DOCUMENTS = 100, 100_000
SMALL_PARTICIPANTS, LARGE_PARTICIPANTS = 100, 10_000
HOT_ARTIFACT, HOT_SHARE, TYPICAL_ARTIFACT = "05.04.03", 0.10, "02.01.02"
SEARCH_WORDS = "monitorage"
# Words of the titles and searchable text; SEARCH_WORDS is one in fifty.
VOCABULARY = ["monitorage", "pharmacovigilance", "formation", "délégation", "curriculum", "laboratoire",
              "étiquetage", "randomisation", "pharmacie", "archivage", "budget", "contrat", "assurance",
              "audit", "déviation", "réunion", "courrier", "certificat", "procédure", "inventaire", "transport",
              "température", "stockage", "retour", "destruction", "note", "rapport", "visite", "initiation",
              "clôture", "sélection", "qualification", "calibration", "maintenance", "normes", "accréditation",
              "financement", "publication", "traduction", "notification", "signalement", "évaluation",
              "validation", "approbation", "soumission", "réponse", "demande", "information", "consentement",
              "registre"]


def pages(trial, *, hot, typical) -> list[tuple[str, str, str]]:
    nct = trial.nct_number
    return [
        ("TMF home", "sponsor", f"/tmf/{nct}/"),
        (f"artifact page {typical} (typical)", "sponsor", f"/tmf/{nct}/artifact/{typical}/"),
        (f"artifact page {hot} (largest, {HOT_SHARE:.0%})", "sponsor", f"/tmf/{nct}/artifact/{hot}/"),
        ("search page, no words", "sponsor", f"/tmf/{nct}/search/"),
        (f"search page, q={SEARCH_WORDS}", "sponsor", f"/tmf/{nct}/search/?q={SEARCH_WORDS}"),
        ("participants list, site DIJ", "coordinator-dij", f"{trial.url.rstrip('/')}/sites/dij/participants/"),
        # Issue 19: completeness (QC-approved counted, pending apart), the QC page and its metrics, milestones.
        ("completeness", "sponsor", f"/tmf/{nct}/completeness/"),
        ("QC page and metrics", "sponsor", f"/tmf/{nct}/qc/"),
        ("milestones", "sponsor", f"/tmf/{nct}/milestones/"),
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--explain-all", action="store_true",
                        help="EXPLAIN ANALYZE the slowest queries of every page at 10^5, not only of those that miss")
    parser.add_argument("--documents", type=int, default=LARGE_DOCUMENTS,
                        help="TMF documents at the large size (10^5 by default; 1000000 for issue 19's 10^6)")
    parser.add_argument("--try-fixes", action="store_true",
                        help="does nothing any more: the fixes it tried are in the project (bench/RESULTS.md (b))")
    args = parser.parse_args()

    s.setup_django(database="postgres")
    s.load_demo_world(with_records=True)
    s.print_machine()

    from django.contrib.auth import get_user_model
    from django.test import Client

    from regulatory.models import TrialPage

    trial = TrialPage.objects.get(nct_number="NCT07063680")
    users = {name: get_user_model().objects.get(username=name) for name in ("sponsor", "coordinator-dij")}
    clients = {}
    for name, user in users.items():
        clients[name] = Client()
        clients[name].force_login(user)
    page_list = pages(trial, hot=HOT_ARTIFACT, typical=TYPICAL_ARTIFACT)
    grow = Grower(trial)

    results = {}
    large_documents = args.documents
    for label, documents, participants in (("small", SMALL_DOCUMENTS, SMALL_PARTICIPANTS),
                                            ("large", large_documents, LARGE_PARTICIPANTS)):
        started = time.perf_counter()
        grow.to(documents=documents, participants=participants)
        print(f"{label}: {grow.counts()} ({time.perf_counter() - started:.1f} s to build)", flush=True)
        results[label] = measure(page_list, clients, repeat=args.repeat)

    rows, missed = [], []
    for name, _user, _path in page_list:
        small, large = results["small"][name], results["large"][name]
        ratio = large["time"] / small["time"]
        flat = small["queries"] == large["queries"]
        ok = flat and ratio <= TIME_TARGET
        if not ok:
            missed.append(name)
        rows.append([name, f"{s.ms(small['time'])} ({s.ms(small['median'])})", small["queries"],
                     f"{s.ms(large['time'])} ({s.ms(large['median'])})", large["queries"],
                     f"{ratio:.2f}x", "yes" if flat else "NO", "met" if ok else "MISSED"])
    s.table(f"(b) TMF and site listings, {SMALL_DOCUMENTS:,} vs {large_documents:,} TMF documents, "
            f"{SMALL_PARTICIPANTS:,} vs {LARGE_PARTICIPANTS:,} participants at DIJ; time: best (median) of "
            f"{args.repeat} rounds, fewer for pages over 1 s",
            ["page", "10^2 time", "queries", f"{large_documents:,} time", "queries", "ratio (best)", "queries flat",
             "target"],
            rows)
    print(f"Targets (flat query count, time within {TIME_TARGET}x): {len(page_list) - len(missed)} of "
          f"{len(page_list)} pages met.", flush=True)

    for name, user, path in page_list:
        if name in missed or args.explain_all:
            explain_slowest(name, clients[user], path)
    return 0


def measure(page_list, clients, *, repeat: int) -> dict:
    """Each page once to warm up, once with its queries logged, then `repeat` timed rounds over all the pages
    (round robin, so that a burst of load on the machine hits every page alike; 3 rounds for a page over 1 s).
    The best round is the figure (load only ever adds time); the median is shown beside it."""
    paths = {name: (user, path) for name, user, path in page_list}

    def get(name):
        user, path = paths[name]
        response = clients[user].get(path)
        assert response.status_code == 200, (path, response.status_code)  # noqa: S101

    measured = {}
    for name in paths:
        get(name)
        with s.query_log() as log:
            get(name)
        started = time.perf_counter()
        get(name)
        first = time.perf_counter() - started
        measured[name] = {"queries": len(log.entries), "log": log, "times": [first],
                          "rounds": repeat if first < 1 else min(repeat, 3)}
    for round_number in range(1, repeat):
        for name in paths:
            if round_number >= measured[name]["rounds"]:
                continue
            gc.collect()
            started = time.perf_counter()
            get(name)
            measured[name]["times"].append(time.perf_counter() - started)
    for item in measured.values():
        item["time"] = min(item["times"])
        item["median"] = s.med(item["times"])
    return measured


def explain_slowest(name: str, client, path: str) -> None:
    """EXPLAIN ANALYZE of the queries of one request of the page (large size): the slowest ones, or, when the
    database is not where the time goes, the count of queries and their total."""
    from django.db import connection

    with s.query_log() as log:
        started = time.perf_counter()
        client.get(path)
        elapsed = time.perf_counter() - started
    selects = [e for e in log.entries if e["sql"].lstrip().upper().startswith("SELECT")]
    timed = []
    with connection.cursor() as cursor:
        for entry in selects:
            cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + entry["sql"], entry["params"])
            plan = [row[0] for row in cursor.fetchall()]
            timed.append((_execution_time(plan), entry, plan))
    timed.sort(key=lambda item: -item[0])
    total = sum(item[0] for item in timed)
    print(f"\n#### {name}: {s.ms(elapsed)} for the request, {len(selects)} SELECTs taking {total:.1f} ms in "
          "PostgreSQL (EXPLAIN ANALYZE)\n")
    slow = [item for item in timed[:2] if item[0] >= 5]
    if not slow:
        print(f"The database is not the cause: {s.ms(elapsed - total / 1000)} of the request is Python "
              "(view and template).\n", flush=True)
    for execution, entry, plan in slow:
        print(f"- {execution:.1f} ms, from {entry['origin']}\n  SQL: {_short(entry['sql'])}\n")
        _print_plan(plan)


def _execution_time(plan: list[str]) -> float:
    return float(plan[-1].split(":")[1].split("ms")[0]) if plan[-1].startswith("Execution Time") else 0.0


def _print_plan(plan: list[str], lines: int = 12) -> None:
    print("```")
    for line in plan[:lines]:
        print(line if len(line) <= 200 else line[:200] + " …")
    if len(plan) > lines:
        print(f"... ({len(plan) - lines} more lines)")
        print(plan[-1])
    print("```\n", flush=True)


def _short(sql: str, limit: int = 400) -> str:
    sql = " ".join(sql.split())
    return sql if len(sql) <= limit else sql[:limit] + " …"


class Grower:
    """Tops the demo trial up with TMF documents (uploaded-like rows, every required field, the model's
    constraints respected) and the DIJ site with participants (gap-free numbers and codes, counter updated)."""

    def __init__(self, trial):
        from consent.models import Participant
        from regulatory.models import TmfArtifact, TmfDocument

        self.trial = trial
        self.sites = list(trial.sites.order_by("code"))
        self.site = trial.sites.get(code="DIJ")
        self.artifacts = list(TmfArtifact.objects.order_by("number"))
        self.hot = next(a for a in self.artifacts if a.number == HOT_ARTIFACT)
        self.random = random.Random(7)  # noqa: S311 (test data)
        self.sponsor = None
        self.TmfDocument, self.Participant = TmfDocument, Participant

    def counts(self) -> str:
        documents = self.TmfDocument.objects.filter(trial=self.trial).count()
        participants = self.Participant.objects.filter(site=self.site).count()
        return f"{documents:,} TMF documents, {participants:,} participants at DIJ"

    def to(self, *, documents: int, participants: int) -> None:
        from django.db import connection

        self._documents(documents - self.TmfDocument.objects.filter(trial=self.trial).count())
        self._participants(participants - self.Participant.objects.filter(site=self.site).count())
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE")  # the steady state autovacuum keeps (visibility map included)

    def _documents(self, missing: int) -> None:
        from django.contrib.auth import get_user_model

        sponsor = get_user_model().objects.get(username="sponsor")
        rng, batch, made = self.random, [], 0
        start = self.TmfDocument.objects.count()
        for n in range(start, start + max(missing, 0)):
            artifact = self.hot if rng.random() < HOT_SHARE else rng.choice(self.artifacts)
            levels = [lv for lv, ok in (("trial", artifact.trial_level), ("country", artifact.country_level),
                                        ("site", artifact.site_level)) if ok] or ["trial"]
            level = rng.choice(levels)
            site = rng.choice(self.sites) if level == "site" else None
            words = " ".join(rng.sample(VOCABULARY, 2))
            date = datetime.date(2024, 1, 1) + datetime.timedelta(days=rng.randrange(1000))
            batch.append(self.TmfDocument(
                trial=self.trial, artifact=artifact, level=level, country="" if level == "trial" else "FR",
                site=site, title=f"{artifact.name} — {words} ({site.code if site else 'FR'}) n°{n}",
                document_date=date, version=f"{rng.randint(1, 5)}.0",
                status=rng.choice(["current"] * 8 + ["superseded", "withdrawn"]),
                # Issue 19: most documents QC-approved, some pending, a few rejected.
                qc_status=rng.choice(["approved"] * 96 + ["pending"] * 3 + ["rejected"]),
                file_name=f"document-{n}.pdf", sha256=f"{n:064x}", filed_by=sponsor,
                search_text=f"{artifact.name} {words} {artifact.definition[:200]}"))
            if len(batch) == 5000:
                self.TmfDocument.objects.bulk_create(batch)
                made += len(batch)
                batch = []
        if batch:
            self.TmfDocument.objects.bulk_create(batch)

    def _participants(self, missing: int) -> None:
        from django.contrib.auth import get_user_model
        from django.db import transaction
        from django.utils import timezone

        from consent.models import ParticipantCounter

        coordinator = get_user_model().objects.get(username="coordinator-dij")
        rng = self.random
        with transaction.atomic():
            counter, _ = ParticipantCounter.objects.select_for_update().get_or_create(site=self.site)
            first = counter.last_number + 1
            rows = []
            for number in range(first, first + max(missing, 0)):
                status = rng.choice(["included"] * 7 + ["screening", "withdrawn", "completed"])
                included = status != "screening"
                rows.append(self.Participant(
                    site=self.site, number=number, code=f"{self.site.code}-{number:04d}", status=status,
                    inclusion_path=rng.choice(["patient", "surrogate", "emergency"]) if included else "",
                    included_at=timezone.now() - datetime.timedelta(days=rng.randrange(300)) if included else None,
                    ended_at=timezone.now() if status in ("withdrawn", "completed") else None,
                    created_by=coordinator))
            self.Participant.objects.bulk_create(rows, batch_size=5000)
            counter.last_number = first + max(missing, 0) - 1
            counter.save(update_fields=["last_number"])


if __name__ == "__main__":
    sys.exit(main())
