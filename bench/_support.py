"""What the benchmarks share: their own database and folders, the demo world, a real server, timing and tables.

Nothing here touches the checkout outside bench/: media files, signing keys and e-mails go to a temporary folder
removed at the end of the run; PostgreSQL benchmarks use the database `bench` only (dropped and created anew),
SQLite ones a temporary file.
"""

from __future__ import annotations

import atexit
import gc
import http.client
import os
import re
import shutil
import signal
import statistics
import subprocess  # noqa: S404 (createdb/dropdb, manage.py and the server, with fixed arguments)
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
# BENCH_DB names another scratch database, so that two benchmarks can run side by side (default `bench`).
PG = {"host": "127.0.0.1", "port": "5432", "user": "postgres", "name": os.environ.get("BENCH_DB", "bench")}
PG_URL = f"postgres://{PG['user']}@{PG['host']}:{PG['port']}/{PG['name']}"
DEMO_PASSWORD = "trialdocs-demo"  # noqa: S105 (the published demo password: regulatory/demo_accounts.py)

_run_dir: Path | None = None


def run_dir() -> Path:
    """This run's temporary folder (media, signing keys, SQLite file), removed when the script ends."""
    global _run_dir
    if _run_dir is None:
        _run_dir = Path(tempfile.mkdtemp(prefix="trialdocs-bench-"))
        atexit.register(shutil.rmtree, _run_dir, True)
    return _run_dir


def setup_django(*, database: str, urlconf: str = "bench.urls") -> dict:
    """Point Django at this run's database ("postgres": the `bench` database, made anew and migrated; "sqlite":
    a temporary file, migrated) and folders, then `django.setup()`. Returns the environment for subprocesses."""
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    folder = run_dir()
    if database == "postgres":
        url = PG_URL
        _recreate_postgres()
    elif database == "sqlite":
        url = f"sqlite:///{folder / 'bench.sqlite3'}"
    else:
        raise ValueError(database)
    (folder / "media").mkdir(exist_ok=True)
    env = {
        "DJANGO_SETTINGS_MODULE": "bench.settings", "DATABASE_URL": url, "BENCH_URLCONF": urlconf,
        "TRIALDOCS_MEDIA_ROOT": str(folder / "media"), "TRIALDOCS_PKI_DIR": str(folder / "pki"),
        "PYTHONPATH": str(ROOT), "TRIALDOCS_PKI_SERVICES_URL": f"http://127.0.0.1:{_free_port()}",
    }
    os.environ.update(env)
    subprocess.run([PYTHON, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=ROOT, check=True,  # noqa: S603
                   env={**os.environ})
    import django

    django.setup()
    return {**os.environ}


def _free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _recreate_postgres() -> None:
    args = ["-h", PG["host"], "-p", PG["port"], "-U", PG["user"]]
    subprocess.run(["dropdb", *args, "--if-exists", "--force", PG["name"]], check=True)  # noqa: S603, S607
    subprocess.run(["createdb", *args, PG["name"]], check=True)  # noqa: S603, S607


def load_demo_world(*, with_records: bool = True) -> None:
    """The demo of `manage.py load_demo` (trial NCT07063680, sites DIJ/LIL/REN, accounts, protocol history,
    consent forms in force; with `with_records`, its twelve participants and their signed consents too) and the
    demo signing identities, in this run's database and folders."""
    from cms.models import HomePage
    from consent import demo_records
    from consent.pki import ensure_identities
    from regulatory import demo
    from regulatory.models import TrialPage

    start_pki_services_process()  # before the demo: it signs (B-LTA), so its TSA must answer
    if not with_records:
        real_load = demo_records.load
        demo_records.load = lambda *, trial, report: None
    try:
        demo.load(home=HomePage.objects.first())
    finally:
        if not with_records:
            demo_records.load = real_load
    trial = TrialPage.objects.get(nct_number="NCT07063680")
    ensure_identities(sponsor_name=trial.sponsor_name, site_codes=list(trial.sites.values_list("code", flat=True)),
                      site_names=dict(trial.sites.values_list("code", "name")))


def start_pki_services_process() -> None:
    """`manage.py pki_services`, as `make demo` runs it beside the demo: it waits for the PKI that the demo's loading
    creates and serves its TSA, OCSP responder and CRLs (the demo waits for them); stopped when the script ends."""
    process = subprocess.Popen([PYTHON, "manage.py", "pki_services"], cwd=ROOT, env={**os.environ},  # noqa: S603
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    atexit.register(process.terminate)


def start_pki_services() -> None:
    """The demo PKI's TSA, OCSP responder and CRLs (certomancer's Animator), as `make demo` runs them, stopped
    when the script ends: every stored signature is timestamped by it."""
    from urllib.parse import urlsplit

    from django.conf import settings

    from consent.pki_services import Animator

    animator = Animator(settings.TRIALDOCS_PKI_DIR, urlsplit(settings.TRIALDOCS_PKI_SERVICES_URL).port).start()
    atexit.register(animator.stop)


# --- timing ----------------------------------------------------------------------------------------------------

def timed(function, *, repeat: int, warmup: int = 1) -> list[float]:
    """Seconds of each of `repeat` calls, after `warmup` calls (garbage collection kept on, as in a server)."""
    for _ in range(warmup):
        function()
    times = []
    for _ in range(repeat):
        gc.collect()
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return times


def med(times: list[float]) -> float:
    return statistics.median(times)


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


def table(title: str, header: list[str], rows: list[list]) -> str:
    """A small Markdown table, printed and returned (RESULTS.md quotes it)."""
    cells = [header, *[[str(c) for c in row] for row in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    lines = [f"### {title}", "",
             "| " + " | ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)) + " |",
             "|" + "|".join("-" * (w + 2) for w in widths) + "|"]
    for row in cells[1:]:
        lines.append("| " + " | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) + " |")
    text = "\n".join(lines) + "\n"
    print(text, flush=True)
    return text


# --- a real server ---------------------------------------------------------------------------------------------

@contextmanager
def gunicorn(env: dict, *, workers: int = 2, threads: int = 4, port: int = 8765):
    """gunicorn serving the project (WSGI, gthread workers) on 127.0.0.1:`port` with this run's settings."""
    log = open(run_dir() / "gunicorn.log", "wb")  # noqa: SIM115 (closed below)
    command = [PYTHON, "-m", "gunicorn", "cms.wsgi:application", "--bind", f"127.0.0.1:{port}",
               "--workers", str(workers), "--threads", str(threads), "--worker-class", "gthread",
               "--timeout", "120", "--graceful-timeout", "5", "--log-level", "warning", "--chdir", str(ROOT)]
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)  # noqa: S603
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                status, _headers, _body = request(port, "GET", "/healthz")
                if status == 200:
                    break
            except OSError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                log.close()
                raise RuntimeError("gunicorn did not start:\n" + (run_dir() / "gunicorn.log").read_text())
            time.sleep(0.25)
        yield port
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


def request(port: int, method: str, path: str, *, cookies: dict | None = None, body: bytes | None = None,
            headers: dict | None = None, connection: http.client.HTTPConnection | None = None):
    """One HTTP request on loopback: (status, headers as a dict of lists, body)."""
    own = connection is None
    connection = connection or http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    all_headers = {"Host": f"127.0.0.1:{port}", **(headers or {})}
    if cookies:
        all_headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in cookies.items())
    try:
        connection.request(method, path, body=body, headers=all_headers)
        response = connection.getresponse()
        data = response.read()
        found: dict[str, list[str]] = {}
        for name, value in response.getheaders():
            found.setdefault(name.lower(), []).append(value)
        return response.status, found, data
    finally:
        if own:
            connection.close()


def update_cookies(cookies: dict, headers: dict) -> None:
    for value in headers.get("set-cookie", []):
        name, _, rest = value.partition("=")
        cookies[name.strip()] = rest.split(";", 1)[0]


def login(port: int, username: str, password: str = DEMO_PASSWORD) -> dict:
    """Log in through the real login form (CSRF included); returns the session and CSRF cookies."""
    cookies: dict = {}
    status, headers, body = request(port, "GET", "/accounts/login/")
    update_cookies(cookies, headers)
    token = csrf_token(body)
    form = urlencode({"username": username, "password": password, "csrfmiddlewaretoken": token}).encode()
    status, headers, body = request(port, "POST", "/accounts/login/", cookies=cookies, body=form, headers={
        "Content-Type": "application/x-www-form-urlencoded", "Referer": f"http://127.0.0.1:{port}/accounts/login/"})
    update_cookies(cookies, headers)
    if status != 302 or "sessionid" not in cookies:
        raise RuntimeError(f"login of {username} failed ({status})")
    return cookies


def csrf_token(html: bytes) -> str:
    match = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', html)
    if not match:
        raise RuntimeError("no CSRF token in the page")
    return match.group(1).decode()


def machine() -> dict:
    """Cores, memory, Python, Django and PostgreSQL versions, and the date: the header of every result."""
    import platform

    import django

    memory = ""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                memory = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    except OSError:
        pass
    postgres = ""
    try:
        from django.db import connections

        if connections["default"].vendor == "postgresql":
            with connections["default"].cursor() as cursor:
                cursor.execute("SHOW server_version")
                postgres = cursor.fetchone()[0]
    except Exception:  # noqa: BLE001, S110 (a header detail)
        pass
    load = os.getloadavg()
    return {"cores": os.cpu_count(), "memory": memory, "python": platform.python_version(),
            "django": django.get_version(), "postgresql": postgres or "—",
            "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"), "load average": f"{load[0]:.2f} {load[1]:.2f}"}


def print_machine() -> None:
    print(" · ".join(f"{k}: {v}" for k, v in machine().items()), flush=True)


# --- queries ---------------------------------------------------------------------------------------------------

_SKIPPED_FRAMES = ("/django/db/", "/django/utils/", "/django/template/", "/django/test/", "/django/core/handlers/",
                   "/contextlib.py", "/functools.py", "/bench/", "/asgiref/")


def _origin() -> str:
    """Where a query comes from: the innermost frame outside Django's ORM and template plumbing (project files
    relative to the checkout, libraries from their package), and whether a template was being rendered."""
    import traceback

    stack = traceback.extract_stack()[:-3]
    in_template = any("/django/template/" in frame.filename for frame in stack)
    for frame in reversed(stack):
        name = frame.filename
        if any(part in name for part in _SKIPPED_FRAMES):
            continue
        if name.startswith(str(ROOT)) and "/.venv/" not in name:
            where = f"{Path(name).relative_to(ROOT)}:{frame.lineno} {frame.name}"
        else:
            where = f"{name.split('site-packages/')[-1]}:{frame.lineno} {frame.name}"
        return where + (" [template]" if in_template else "")
    return "?"


class QueryLog:
    """Every query run on the default connection inside `with query_log() as log:`: SQL, time and origin."""

    def __init__(self):
        self.entries: list[dict] = []

    def __call__(self, execute, sql, params, many, context):
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            self.entries.append({"sql": sql, "params": params, "seconds": time.perf_counter() - started,
                                 "origin": _origin()})

    def by_origin(self) -> list[tuple[str, int, float]]:
        """(origin, count, seconds), most queries first."""
        found: dict[str, list] = {}
        for entry in self.entries:
            item = found.setdefault(entry["origin"], [0, 0.0])
            item[0] += 1
            item[1] += entry["seconds"]
        return sorted(((k, v[0], v[1]) for k, v in found.items()), key=lambda row: (-row[1], -row[2]))


@contextmanager
def query_log():
    from django.db import connection

    log = QueryLog()
    with connection.execute_wrapper(log):
        yield log
