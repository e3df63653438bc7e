"""Issue 16: a real cluster on this machine (scripts/cluster.sh, as `make cluster` starts it), driven over HTTP.

PostgreSQL (a database of its own, CLUSTER_TEST_DB), its own Redis, two gunicorn app servers, an RQ task worker
and nginx on 127.0.0.1:8080; the files on the object store when scripts/objectstore.sh exists, else in a folder
both app servers share. The tests go through nginx or to one app server on purpose, and kill processes with
SIGKILL: an app server during a stream of consent submissions, the task worker during a TMF export, Redis with a
task waiting. Marked `cluster`: `make test` leaves them out, `make test-cluster` (its own stage in .ci/run) runs them.
"""

import concurrent.futures
import contextlib
import datetime
import hashlib
import http.client
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

import pytest

pytestmark = pytest.mark.cluster
if not (os.environ.get("TRIALDOCS_CLUSTER_TESTS") or os.environ.get("CLUSTER_TEST_ATTACH")):
    # A plain `pytest` must not start servers on ports 8080-8082 and 6390 behind one's back.
    pytest.skip("the cluster tests run with `make test-cluster` (TRIALDOCS_CLUSTER_TESTS=1)", allow_module_level=True)

ROOT = Path(__file__).resolve().parent.parent
LB, APP1, APP2 = 8080, 8081, 8082
REDIS_PORT = 6390
PKI_PORT = 9102  # the demo PKI's TSA, OCSP and CRLs (scripts/cluster.sh, CLUSTER_PKI_PORT)
DB = os.environ.get("CLUSTER_TEST_DB", "trialdocs_cluster_test")
PASSWORD = "trialdocs-demo"  # noqa: S105  # the published demo password (regulatory/demo_accounts.py)
START_SECONDS = 900
PARIS = ZoneInfo("Europe/Paris")


class Cluster:
    def __init__(self, folder: Path):
        self.folder = folder
        self.env = {**os.environ, "DJANGO_SETTINGS_MODULE": "cms.settings.dev",
                    "DATABASE_URL": f"postgres://postgres@127.0.0.1:5432/{DB}",
                    "TRIALDOCS_REDIS_URL": f"redis://127.0.0.1:{REDIS_PORT}/0",
                    "TRIALDOCS_TASKS_REDIS_URL": f"redis://127.0.0.1:{REDIS_PORT}/1",
                    "TRIALDOCS_MEDIA_ROOT": str(folder / "media"), "TRIALDOCS_PKI_DIR": str(folder / "pki"),
                    "TRIALDOCS_PUBLIC_URL": f"http://127.0.0.1:{LB}",
                    "TRIALDOCS_PKI_SERVICES_URL": f"http://127.0.0.1:{PKI_PORT}"}
        self.env.pop("PYTEST_XDIST_WORKER", None)
        # The object store's settings, as scripts/cluster.sh printed them (export TRIALDOCS_S3_…=…): the shells the
        # tests run read the same files as the app servers.
        out = folder / "cluster.out"
        for line in (out.read_text(errors="replace") if out.exists() else "").splitlines():
            found = re.match(r"\s*export (TRIALDOCS_S3_[A-Z0-9_]*)=(.*)$", line)
            if found:
                self.env[found[1]] = found[2].strip().strip("\"'")

    def pid(self, name: str) -> int:
        return int((self.folder / "run" / f"{name}.pid").read_text())

    def kill(self, name: str) -> int:
        """SIGKILL a service, every process of its group and their descendants (a gunicorn master and its workers;
        the RQ worker and its work horse, which RQ puts in a session of its own): as if its machine had died. Its
        supervisor starts it again a second later."""
        pid = self.pid(name)
        doomed = descendants(pid)
        os.killpg(pid, signal.SIGKILL)
        for child in doomed:
            with contextlib.suppress(ProcessLookupError):
                os.kill(child, signal.SIGKILL)
        return pid

    def wait_restarted(self, name: str, old_pid: int, url_port: int | None = None, seconds: int = 120) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            try:
                if self.pid(name) != old_pid and (url_port is None or get(url_port, "/healthz")[0] == 200):
                    return
            except (OSError, ValueError, http.client.HTTPException):
                pass
            time.sleep(0.5)
        raise AssertionError(f"{name} did not come back")

    def django(self, code: str) -> object:
        """Run `code` in a Django shell on the cluster's database and settings; it prints one JSON line."""
        out = subprocess.run([sys.executable, "manage.py", "shell", "-c", code], cwd=ROOT, env=self.env,
                             capture_output=True, text=True, timeout=300, check=True)
        return json.loads(out.stdout.strip().splitlines()[-1])


def descendants(pid: int) -> set[int]:
    """Every process below `pid` (from /proc)."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parents[int(entry.name)] = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
    found, frontier = set(), {pid}
    while frontier:
        frontier = {child for child, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return found


def request(port: int, method: str, path: str, *, cookies: dict | None = None, body: bytes | None = None,
            headers: dict | None = None, timeout: float = 120):
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
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
        if cookies is not None:
            for value in found.get("set-cookie", []):
                name, _, rest = value.partition("=")
                cookies[name.strip()] = rest.split(";", 1)[0]
        return response.status, found, data
    finally:
        connection.close()


def get(port: int, path: str, cookies: dict | None = None):
    return request(port, "GET", path, cookies=cookies)


def csrf(html: bytes) -> str:
    return re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', html).group(1).decode()


def post(port: int, path: str, fields: dict, cookies: dict, *, referer_path: str | None = None):
    return request(port, "POST", path, cookies=cookies, body=urlencode(fields).encode(), headers={
        "Content-Type": "application/x-www-form-urlencoded",
        "Referer": f"http://127.0.0.1:{port}{referer_path or path}"})


def login(port: int, username: str, password: str = PASSWORD) -> tuple[int, dict]:
    cookies: dict = {}
    _status, _headers, body = get(port, "/accounts/login/", cookies)
    status, _headers, _body = post(port, "/accounts/login/", {
        "username": username, "password": password, "csrfmiddlewaretoken": csrf(body)}, cookies)
    return status, cookies


def logged_in(port: int, username: str) -> dict:
    status, cookies = login(port, username)
    assert status == 302 and "sessionid" in cookies, status
    return cookies


@pytest.fixture(scope="module")
def cluster():
    if os.environ.get("CLUSTER_TEST_ATTACH"):  # a cluster already running (its CLUSTER_DIR; CLUSTER_TEST_DB its base)
        yield Cluster(Path(os.environ["CLUSTER_TEST_ATTACH"]))
        return
    for port in (LB, APP1, APP2, REDIS_PORT, PKI_PORT):
        try:
            http.client.HTTPConnection("127.0.0.1", port, timeout=1).connect()
        except OSError:
            continue
        pytest.fail(f"port {port} is taken: stop whatever runs there (another `make cluster`?) first")
    # A folder of its own, not pytest's tmp_path: pytest prunes older base folders while a run of another session
    # may be in progress, which would pull the cluster's files from under it.
    folder = Path(tempfile.mkdtemp(prefix="trialdocs-cluster-"))
    log = (folder / "cluster.out").open("wb")
    process = subprocess.Popen(["scripts/cluster.sh"], cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
                               env={**os.environ, "CLUSTER_DB": DB, "CLUSTER_DIR": str(folder)},
                               start_new_session=True)
    try:
        deadline = time.monotonic() + START_SECONDS
        while b"TrialDocs cluster ready" not in (folder / "cluster.out").read_bytes():
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail("the cluster did not start:\n" + (folder / "cluster.out").read_text()[-5000:])
            time.sleep(1)
        yield Cluster(folder)
    finally:
        with contextlib.suppress(ProcessLookupError):  # it may have stopped on its own (it failed to start)
            os.killpg(process.pid, signal.SIGTERM)  # scripts/cluster.sh stops everything it started
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
        log.close()
        subprocess.run(["dropdb", "-h", "127.0.0.1", "-U", "postgres", "--if-exists", "--force", DB], check=False)
        shutil.rmtree(folder, ignore_errors=True)


def healthz(port: int) -> dict:
    status, _headers, body = get(port, "/healthz")
    assert status == 200, body
    return json.loads(body)


def test_each_app_server_says_who_it_is_and_what_it_uses(cluster):
    one, two = healthz(APP1), healthz(APP2)
    assert (one["instance"], two["instance"]) == ("app1", "app2")
    objectstore = (ROOT / "scripts" / "objectstore.sh").exists()
    for answer in (one, two):
        assert answer["status"] == "ok" and answer["database"] == "ok"
        assert answer["tasks"] == "rq" and answer["redis"] == {"cache": "ok", "queue": "ok"}
        assert answer["storage"] == ("s3" if objectstore else "filesystem")
    assert {healthz(LB)["instance"] for _ in range(12)} == {"app1", "app2"}  # nginx shares the requests out


def test_a_session_opened_on_one_server_works_on_the_other(cluster):
    cookies = logged_in(APP1, "coordinator-dij")
    status, _headers, body = get(APP2, "/nct07063680/sites/dij/participants/", cookies)
    assert status == 200 and b"DIJ-0001" in body
    status, _headers, _body = get(APP2, "/nct07063680/sites/dij/participants/", {})
    assert status == 302  # without the session: to the login page


def test_a_user_throttled_on_one_server_is_throttled_on_the_other(cluster):
    # The login throttle counts the audit entries of failed logins (in the database): five wrong passwords on
    # app1, then the right one on app2 is refused.
    for _ in range(5):
        status, _cookies = login(APP1, "coordinator-ren", "not-the-password")
        assert status == 200
    status, cookies = login(APP2, "coordinator-ren")
    assert status != 302 and "sessionid" not in cookies
    # The FHIR API's per-address limit of calls without a usable token counts in the shared cache (Redis): 20 per
    # minute from this address, spread over both servers, then both refuse.
    codes = [get(APP1 if i % 2 else APP2, "/fhir/R5/Consent", {})[0] for i in range(20)]
    assert set(codes) == {401}, codes
    assert get(APP1, "/fhir/R5/Consent", {})[0] == 429
    assert get(APP2, "/fhir/R5/Consent", {})[0] == 429


def test_a_permission_revoked_on_one_server_is_refused_on_the_other_at_the_next_request(cluster):
    inspector = logged_in(APP2, "inspector")
    status, _headers, _body = get(APP2, "/tmf/NCT07063680/", inspector)
    assert status == 200
    grant = cluster.django(
        "import json; from regulatory.models import InspectorGrant;"
        "print(json.dumps(InspectorGrant.objects.active().get(inspector__username='inspector').pk))")
    sponsor = logged_in(APP1, "sponsor")
    _status, _headers, page = get(APP1, "/tmf/NCT07063680/inspections/", sponsor)
    status, _headers, _body = post(APP1, f"/tmf/NCT07063680/inspections/{grant}/close/", {
        "csrfmiddlewaretoken": csrf(page), "reason": "Inspection over"}, sponsor,
        referer_path="/tmf/NCT07063680/inspections/")
    assert status == 302
    status, _headers, _body = get(APP2, "/tmf/NCT07063680/", inspector)
    assert status in (403, 404)


def new_participants(cluster: Cluster, count: int) -> tuple[list[str], int, int]:
    """`count` new participants at DIJ, the current French patient form's id and its number of statements."""
    return cluster.django(
        "import json; from django.contrib.auth import get_user_model; from consent import selectors, services;"
        "from consent.blocks import neutral; from regulatory.models import TrialPage;"
        "trial = TrialPage.objects.get(nct_number='NCT07063680'); site = trial.sites.get(code='DIJ');"
        "actor = get_user_model().objects.get(username='coordinator-dij');"
        "version = selectors.current_version(site=site, kind='patient', language='fr');"
        "statements = [b for b in neutral(version.consent) if b['type'] == 'consent_statement'];"
        f"codes = [services.participant_create(actor=actor, site=site).code for _ in range({count})];"
        "print(json.dumps([codes, version.pk, len(statements)]))")


def signature_png() -> str:
    import base64

    sys.path.insert(0, str(ROOT))
    from consent.demo_records import scribble

    return "data:image/png;base64," + base64.b64encode(scribble("cluster")).decode()


def submit_consent(port: int, cookies: dict, code: str, version: int, statements: int, signature: str) -> int:
    """Open the consent form and post it, signed; the status of the POST (302: recorded), or 0 when the
    connection failed."""
    url = f"/nct07063680/sites/dij/participants/{code}/consent/{version}/"
    try:
        status, _headers, body = get(port, url, dict(cookies))
        if status != 200:
            return status
        fields = {
            "csrfmiddlewaretoken": csrf(body), "version": version, "expected_sequence": 0,
            "signed_at": (datetime.datetime.now(PARIS) - datetime.timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M"),
            "outcome": "consented", "signature_drawn": signature, "username": "coordinator-dij",
            "password": PASSWORD, "surrogate_relationship": "", "witness_name": "", "objects_to_data_use": "",
            **{f"statement_{i}": "accept" for i in range(statements)}}
        status, _headers, _body = post(port, url, fields, dict(cookies))
        return status
    except (OSError, http.client.HTTPException):
        return 0


RECORDS = """
import hashlib, json
from consent.models import ConsentRecord
found = {}
for record in ConsentRecord.objects.filter(participant__code__in=CODES).select_related("participant"):
    try:
        with record.pdf.open("rb") as handle:
            actual = hashlib.sha256(handle.read()).hexdigest()
    except OSError:
        actual = "missing"
    found.setdefault(record.participant.code, []).append([record.pdf.name, record.pdf_sha256, actual])
print(json.dumps(found))
"""


SETTLED = """
import json, time
from consent.models import ArchivalFile
for _ in range(180):  # every file, the demo's too (load_demo queued theirs just before the tests began)
    left = ArchivalFile.objects.exclude(state="complete").count()
    if not left:
        break
    time.sleep(1)
print(json.dumps(left))
"""

# Swift updates its container listings asynchronously under load: an object deleted a moment ago may still be
# listed, so each listed name is checked with a HEAD (authoritative).
UNREFERENCED = """
import json
from django.core.files.storage import default_storage
from consent.stored_files import all_names, referenced_names
referenced = referenced_names()
print(json.dumps(sorted(n for n in all_names(folder="signed/consents")
                        if n not in referenced and default_storage.exists(n))))
"""


def records_and_files(cluster: Cluster, codes: list[str]) -> dict:
    """Participant code -> [file name, SHA-256 recorded, SHA-256 of the stored file] of each consent record."""
    return cluster.django(RECORDS.replace("CODES", repr(codes)))


def test_kill_9_of_an_app_server_during_consent_submissions(cluster):
    codes, version, statements = new_participants(cluster, 24)
    signature = signature_png()
    cookies = logged_in(LB, "coordinator-dij")
    before = set(cluster.django(UNREFERENCED))
    outcomes: dict[str, int] = {}
    kills: list[int] = []
    with concurrent.futures.ThreadPoolExecutor(max_workers=4) as pool:
        futures = {pool.submit(submit_consent, LB, cookies, code, version, statements, signature): code
                   for code in codes}
        # app1 is killed three times while the four clients are mid-way (most of a consent's time is its POST:
        # rendering and signing), each time once it has come back.
        for future in concurrent.futures.as_completed(futures):
            outcomes[futures[future]] = future.result()
            if len(outcomes) in (3, 9, 15):
                try:
                    if not kills or cluster.pid("app1") != kills[-1]:
                        kills.append(cluster.kill("app1"))
                except (OSError, ValueError):
                    pass
    killed = kills[-1] if kills else None
    assert killed is not None
    print(f"consent submissions through nginx while app1 was killed {len(kills)} times:",
          {status: list(outcomes.values()).count(status) for status in set(outcomes.values())})
    # Every request either recorded its consent (302) or failed cleanly (nginx's 502, or the connection dropped):
    # never a 500 with something half-written.
    assert set(outcomes.values()) <= {302, 502, 0}, outcomes
    assert list(outcomes.values()).count(302) >= len(codes) // 2, outcomes  # app2 took over
    # The worker completes each new consent to B-LTA (a new file, the old one removed): let it finish first.
    assert cluster.django(SETTLED) == 0, "archival completion did not finish"
    found = records_and_files(cluster, codes)
    for code, status in outcomes.items():
        if status == 302:
            assert len(found.get(code, [])) == 1, (code, found.get(code))
        # Whatever the answer, a record is whole: its file is there with the hash recorded.
        for _name, recorded, actual in found.get(code, []):
            assert recorded == actual, code
        assert len(found.get(code, [])) <= 1
    # A request killed between writing its file and committing its record leaves an orphan in the store (in the
    # object store or the shared folder): at most one per request that did not record its consent, and
    # `sweep_orphan_files` removes exactly those (audited), never a record's file.
    failed = len(codes) - list(outcomes.values()).count(302)
    deadline = time.monotonic() + 120  # the worker removes each B-T file once its B-LTA file is committed
    while len(orphans := set(cluster.django(UNREFERENCED)) - before) > failed and time.monotonic() < deadline:
        time.sleep(5)
    assert len(orphans) <= failed, orphans
    subprocess.run([sys.executable, "manage.py", "sweep_orphan_files", "--delete", "--min-age", "0"], cwd=ROOT,
                   env=cluster.env, capture_output=True, check=True, timeout=300)
    assert not set(cluster.django(UNREFERENCED)) & orphans
    cluster.wait_restarted("app1", killed, APP1)
    # Those that failed can simply be submitted again, through the same load balancer.
    for code, status in outcomes.items():
        if status != 302 and not found.get(code):
            assert submit_consent(LB, cookies, code, version, statements, signature) == 302


def start_export(cookies: dict) -> int:
    _status, _headers, page = get(LB, "/tmf/NCT07063680/exports/", cookies)
    status, _headers, _body = post(LB, "/tmf/NCT07063680/exports/", {"csrfmiddlewaretoken": csrf(page)}, cookies)
    assert status == 302
    _status, _headers, page = get(LB, "/tmf/NCT07063680/exports/", cookies)
    return max(int(pk) for pk in re.findall(rb"/exports/(\d+)/status/", page))


def export_state(cookies: dict, job: int, port: int = LB) -> dict:
    status, _headers, body = get(port, f"/tmf/NCT07063680/exports/{job}/status/", cookies)
    assert status == 200, status
    return json.loads(body)


def wait_state(cookies: dict, job: int, states: set[str], seconds: int = 300) -> dict:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        state = export_state(cookies, job)
        if state["state"] in states:
            return state
        time.sleep(0.5)
    raise AssertionError(f"export {job} still {state} after {seconds} s")


def test_kill_9_of_the_worker_during_an_export_then_it_completes(cluster):
    sponsor = logged_in(APP1, "sponsor")
    job = start_export(sponsor)
    wait_state(sponsor, job, {"running", "done"})
    state = export_state(sponsor, job)
    assert state["state"] == "running", "the export ended before the worker could be killed: nothing was proved"
    killed = cluster.kill("worker")
    cluster.wait_restarted("worker", killed)
    state = wait_state(sponsor, job, {"done", "failed"}, seconds=600)
    assert state["state"] == "done", state
    # Downloaded through the other app server.
    status, headers, body = get(APP2, f"/tmf/NCT07063680/exports/{job}/download/", sponsor)
    assert status == 200 and body[:2] == b"PK"
    recorded = cluster.django(
        "import json; from regulatory.models import TmfExportJob;"
        f"print(json.dumps(TmfExportJob.objects.get(pk={job}).sha256))")
    assert hashlib.sha256(body).hexdigest() == recorded


def test_a_redis_restart_loses_no_task(cluster):
    sponsor = logged_in(APP2, "sponsor")
    # No worker while the task waits: stop the worker's supervisor loop from restarting it by killing Redis first?
    # No: the worker is stopped (SIGSTOP) so the job waits in Redis, Redis is killed (-9) and comes back from its
    # append-only file, then the worker goes on.
    worker = cluster.pid("worker")
    os.killpg(worker, signal.SIGSTOP)
    try:
        job = start_export(sponsor)
        assert export_state(sponsor, job)["state"] == "queued"
        killed = cluster.kill("redis")
        cluster.wait_restarted("redis", killed)
        deadline = time.monotonic() + 30
        while subprocess.run(["redis-cli", "-p", str(REDIS_PORT), "ping"], capture_output=True,
                             check=False).stdout.strip() != b"PONG" and time.monotonic() < deadline:
            time.sleep(0.2)
    finally:
        os.killpg(worker, signal.SIGCONT)
    state = wait_state(sponsor, job, {"done", "failed"}, seconds=600)
    assert state["state"] == "done", state
