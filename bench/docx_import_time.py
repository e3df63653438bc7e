"""(f) Word import answers in time (issues 6 and 13): `consent.docx.import_docx` on the real Word files of
`tests/fixtures/docx/`, the tracked-changes draft, every hostile file of the test corpus and 200 randomly
corrupted copies of a real form, each timed against the 2 s target (the import runs inside the request).

    .venv/bin/python bench/docx_import_time.py [--repeat 3]

The suite checks what each import gives or refuses (consent/tests/test_docx.py); the time is measured here, not
asserted in a test (the brief: speed targets are benchmarks that print ratios). No database is used.
"""

import argparse
import random
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench._support import med, ms, table, timed  # noqa: E402

TARGET_SECONDS = 2.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    import os

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cms.settings.dev")
    import django

    django.setup()
    from consent.docx import DocxRefused, import_docx
    from consent.tests import test_docx as corpus  # the hostile files are built by the test module, not committed

    def attempt(data: bytes, **options):
        try:
            return import_docx(data, **options)
        except DocxRefused as refused:
            return refused

    cases = {name: (corpus.read_fixture(name), {}) for name in
             [corpus.NIH_ICF, corpus.FR_SURROGATE, corpus.M11, corpus.NIH_PROTOCOL]}
    cases["tracked-changes draft, allowed"] = (corpus.read_fixture(corpus.M11_TRACKED), {"allow_tracked_changes": True})
    for name, (build, _expected) in corpus.HOSTILE.items():
        cases[f"hostile: {name}"] = (build(), {})

    rows, worst = [], 0.0
    for name, (data, options) in cases.items():
        seconds = med(timed(lambda data=data, options=options: attempt(data, **options), repeat=args.repeat))
        worst = max(worst, seconds)
        outcome = attempt(data, **options)
        answer = "refused" if isinstance(outcome, DocxRefused) else "imported"
        rows.append([name, f"{len(data) / 1024:.0f} KiB", ms(seconds), f"{seconds / TARGET_SECONDS:.2f}", answer])

    original = corpus.read_fixture(corpus.FR_SURROGATE)
    rng = random.Random(20260301)  # noqa: S311 - the same corrupted copies as the test
    corrupted_times = []
    for _ in range(200):
        corrupted = bytearray(original)
        for _ in range(rng.randint(1, 6)):
            corrupted[rng.randrange(len(corrupted))] = rng.randrange(256)
        start = time.perf_counter()
        attempt(bytes(corrupted))
        corrupted_times.append(time.perf_counter() - start)
    slowest = max(corrupted_times)
    worst = max(worst, slowest)
    rows.append(["200 corrupted copies of the French form (slowest)", f"{len(original) / 1024:.0f} KiB",
                 ms(slowest), f"{slowest / TARGET_SECONDS:.2f}", "each imported or refused"])

    table("(f) Word import time against the 2 s target (median of repeats; ratio = time / 2 s)",
          ["file", "size", "time", "ratio", "answer"], rows)
    print(f"Worst: {ms(worst)} — target {'met' if worst <= TARGET_SECONDS else 'MISSED'} (≤ {TARGET_SECONDS:.0f} s).")


if __name__ == "__main__":
    main()
