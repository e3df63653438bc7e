"""Issue 15: the cost of the signature a consent request makes, B-T (signature timestamp from the local demo TSA,
certomancer's Animator) against B-B, in one process, interleaved (the key loaded once per process, as the server
does). The B-LTA completion runs in the background and is timed apart. Target: B-T within 1.5x of B-B.

Run: .venv/bin/python bench/bt_vs_bb_sign.py [--iterations N]
"""

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import _support as s  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iterations", type=int, default=15)
    args = parser.parse_args()
    s.setup_django(database="sqlite")
    from consent import pki, signing
    from consent.tests.test_signing import CONSENT, make_pdf

    pki.ensure_identities(sponsor_name="Bench", site_codes=["DIJ"])
    s.start_pki_services()
    pdf = make_pdf()
    identity = pki.load_identity(role="site", site_code="DIJ")
    bb, bt, lta = [], [], []
    signing.sign_for_archive(pdf, identity=identity, request=CONSENT)  # warm-up
    signing.sign_pdf(pdf, identity=identity, request=CONSENT)
    for _ in range(args.iterations):
        start = time.perf_counter()
        signing.sign_pdf(pdf, identity=identity, request=CONSENT)
        bb.append(time.perf_counter() - start)
        start = time.perf_counter()
        signed = signing.sign_for_archive(pdf, identity=identity, request=CONSENT)
        bt.append(time.perf_counter() - start)
        start = time.perf_counter()
        signing.complete_archival(signed)
        lta.append(time.perf_counter() - start)
    b, t, c = (statistics.median(x) * 1000 for x in (bb, bt, lta))
    print(f"sign B-B (request of today)      median {b:7.1f} ms")
    print(f"sign B-T (request, with the TSA) median {t:7.1f} ms   {t / b:.2f}x B-B (target <= 1.5x)")
    print(f"complete to B-LTA (background)   median {c:7.1f} ms   (not in the request)")
    return 0 if t / b <= 1.5 else 1


if __name__ == "__main__":
    raise SystemExit(main())
