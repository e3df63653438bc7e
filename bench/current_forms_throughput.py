"""Issue 7 (c): throughput of the current-forms page under concurrent load, against a bare Django view.

A real gunicorn server (gthread: 2 workers x 4 threads, on this 2-core machine) serves the project with
`bench.urls`: the project's URLs plus one bare view (`/bench/bare/`, a fixed "ok" through the same middleware:
session, authentication, CSRF, locale, audit plumbing, one transaction per request). N client threads, each with
its own keep-alive connection and the DIJ coordinator's session cookie (logged in through the login form), GET
one URL as fast as they can for a fixed time: the bare view and /nct07063680/sites/dij/consent-forms/ alternate
in several rounds, so load from elsewhere on the machine falls on both alike. Then, in this process, the queries
of each view by origin, to say where the difference goes.

Run: .venv/bin/python bench/current_forms_throughput.py [--clients N] [--seconds S] [--rounds R].
PostgreSQL database `bench` (made anew). Target: the page at least half the bare view's throughput.
"""

import argparse
import http.client
import re
import statistics
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import _support as s  # noqa: E402

TARGET = 0.5
BARE = "/bench/bare/"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=5.0, help="per view and round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=4)
    args = parser.parse_args()

    env = s.setup_django(database="postgres", urlconf="bench.urls")
    s.load_demo_world(with_records=True)
    s.print_machine()

    from regulatory.models import TrialPage

    trial = TrialPage.objects.get(nct_number="NCT07063680")
    page = f"{trial.url.rstrip('/')}/sites/dij/consent-forms/"
    totals = {BARE: {"ok": 0, "errors": 0, "seconds": 0.0, "latencies": []},
              page: {"ok": 0, "errors": 0, "seconds": 0.0, "latencies": []}}
    with s.gunicorn(env, workers=args.workers, threads=args.threads) as port:
        cookies = s.login(port, "coordinator-dij")
        status, _headers, body = s.request(port, "GET", page, cookies=cookies)
        assert status == 200 and b"consent-forms/" in body, status  # noqa: S101
        forms_listed = len(re.findall(rb"consent-forms/\d+/pdf/", body))
        for path in (BARE, page):  # warm both workers and every thread
            load(port, path, cookies, clients=args.clients, seconds=1.0)
        for _round in range(args.rounds):
            for path in (BARE, page):
                result = load(port, path, cookies, clients=args.clients, seconds=args.seconds)
                for key in ("ok", "errors", "seconds"):
                    totals[path][key] += result[key]
                totals[path]["latencies"] += result["latencies"]

    rows = []
    rate = {}
    for path, label in ((BARE, "bare view (same middleware)"), (page, f"current forms, DIJ ({forms_listed} forms)")):
        t = totals[path]
        rate[path] = t["ok"] / t["seconds"]
        latencies = sorted(t["latencies"])
        rows.append([label, t["ok"], t["errors"], f"{rate[path]:.1f}", s.ms(statistics.median(latencies)),
                     s.ms(latencies[int(len(latencies) * 0.95) - 1])])
    ratio = rate[page] / rate[BARE]
    s.table(f"(c) Throughput, gunicorn gthread {args.workers}x{args.threads}, {args.clients} clients, "
            f"{args.rounds} rounds of {args.seconds:g} s per view",
            ["view", "requests", "errors", "requests/s", "median latency", "p95 latency"], rows)
    met = ratio >= TARGET and not totals[page]["errors"]
    print(f"Target: current forms at least {TARGET:.0%} of the bare view's throughput: "
          f"{'MET' if met else 'MISSED'} ({ratio:.1%}).", flush=True)
    where_it_goes(page)
    return 0


def load(port: int, path: str, cookies: dict, *, clients: int, seconds: float) -> dict:
    """`clients` threads GET `path` on keep-alive connections until the time is up (bounded by time only)."""
    cookie = "; ".join(f"{k}={v}" for k, v in cookies.items())
    headers = {"Host": f"127.0.0.1:{port}", "Cookie": cookie}
    start_barrier = threading.Barrier(clients + 1)
    results = [{"ok": 0, "errors": 0, "latencies": []} for _ in range(clients)]

    def client(result):
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        start_barrier.wait()
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            try:
                connection.request("GET", path, headers=headers)
                response = connection.getresponse()
                response.read()
                ok = response.status == 200
                if response.will_close:
                    connection.close()
            except (OSError, http.client.HTTPException):
                ok = False
                connection.close()
            if ok:
                result["ok"] += 1
                result["latencies"].append(time.perf_counter() - started)
            else:
                result["errors"] += 1
        connection.close()

    threads = [threading.Thread(target=client, args=(r,), daemon=True) for r in results]
    for thread in threads:
        thread.start()
    deadline = time.perf_counter() + seconds  # read by the clients once the barrier lets them go
    start_barrier.wait()
    began = time.perf_counter()
    for thread in threads:
        thread.join(seconds + 60)
    elapsed = time.perf_counter() - began
    return {"ok": sum(r["ok"] for r in results), "errors": sum(r["errors"] for r in results), "seconds": elapsed,
            "latencies": [x for r in results for x in r["latencies"]]}


def where_it_goes(page: str) -> None:
    """In this process (test client, same database): time, queries and their origins, for both views."""
    from django.contrib.auth import get_user_model
    from django.test import Client

    client = Client()
    client.force_login(get_user_model().objects.get(username="coordinator-dij"))
    summary, origins = [], {}
    for path, label in ((BARE, "bare view"), (page, "current forms")):
        client.get(path)
        with s.query_log() as log:
            response = client.get(path)
        assert response.status_code == 200  # noqa: S101
        best = min(s.timed(lambda path=path: client.get(path), repeat=15, warmup=2))
        database = sum(e["seconds"] for e in log.entries)
        summary.append([label, s.ms(best), len(log.entries), s.ms(database)])
        origins[label] = log.by_origin()
    s.table("(c) One request in this process (test client; best of 15)", [
        "view", "time", "queries", "time in queries (one request)"], summary)
    rows = [[origin, count, s.ms(seconds)] for origin, count, seconds in origins["current forms"]]
    s.table("(c) Queries of the current-forms page by origin (innermost frame outside Django's ORM)",
            ["origin", "queries", "time"], rows)
    rows = [[origin, count, s.ms(seconds)] for origin, count, seconds in origins["bare view"]]
    s.table("(c) Queries of the bare view by origin (the middleware every page pays)",
            ["origin", "queries", "time"], rows)
    profile(client, page)


def profile(client, page: str) -> None:
    """Where the current-forms request spends its time, by project function (cProfile, cumulative)."""
    import cProfile
    import pstats

    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(10):
        client.get(page)
    profiler.disable()
    stats = pstats.Stats(profiler)
    total = max(row[3] for row in stats.stats.values())
    rows = []
    for (filename, line, function), (_cc, calls, _tt, cumulative, _callers) in stats.stats.items():
        interesting = (filename.startswith(str(s.ROOT)) and "/.venv/" not in filename and "/bench/" not in filename) \
            or any(part in filename for part in ("wagtail/views.py", "wagtail/contrib/routable_page/models.py",
                                                 "django/template/response.py", "wagtail/models/pages.py",
                                                 "wagtail/models/sites.py", "django/contrib/sessions/backends/db.py",
                                                 "guardian/core.py"))
        if interesting and cumulative >= 0.04 * total:
            where = filename.split("site-packages/")[-1].replace(str(s.ROOT) + "/", "")
            rows.append([f"{where}:{line} {function}", calls // 10, f"{100 * cumulative / total:.0f}%"])
    rows.sort(key=lambda row: -float(row[2].rstrip("%")))
    s.table("(c) Current-forms request under cProfile: share of the request's time (cumulative, >= 4%)",
            ["function", "calls per request", "share"], rows[:25])


if __name__ == "__main__":
    sys.exit(main())
