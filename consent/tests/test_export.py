"""Bulk export of a site's consent records (21 CFR 11.10(b)): every signed PDF of the site in one zip with an index
and a manifest, checked against the stored SHA-256, deterministic, audited; by command and by download."""

import csv
import datetime
import hashlib
import io
import json
import zipfile
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from consent import export, services
from consent.pki import ensure_identities
from consent.tests.factories import make_form, signature_png
from regulatory.models import AuditEntry, InspectorGrant
from regulatory.tests.factories import PASSWORD
from tests.sharing import shared_fixture

PARIS = ZoneInfo("Europe/Paris")
URL = "/nct07063680/sites/{site}/consent-records/export/"


@shared_fixture
def forms(world):
    ensure_identities(sponsor_name=world.trial.sponsor_name, site_codes=["DIJ", "LIL"])
    start = timezone.now() - datetime.timedelta(days=40)
    made = {}
    for kind in ("patient", "surrogate", "continuation"):
        made[kind] = make_form(trial=world.trial, kind=kind)
        services.form_make_effective(actor=world.sponsor, version=made[kind], sites=[world.site_a, world.site_b],
                                     effective_from=start)
    return made


def record(participant, version, actor, *, hours_ago=1, **fields):
    if version.kind == "surrogate":
        fields.update(surrogate_relationship="fille", independence_attested=True)
    data = services.ConsentInput(version=version, signed_at=timezone.now() - datetime.timedelta(hours=hours_ago),
                                 outcome="consented", answers={0: "accept"}, signature_png=signature_png(),
                                 signature_source="drawn", **fields)
    return services.consent_record_create(actor=actor, participant=participant, data=data,
                                          username=actor.get_username(), password=PASSWORD,
                                          expected_sequence=participant.consents.count())


@shared_fixture
def consents(world, forms):
    """DIJ-0001: a surrogate consent then the patient's continuation; DIJ-0002: none yet; DIJ-0003: a patient
    consent obtained by someone whose name starts like a formula; LIL-0001: a patient consent (never in DIJ's zip)."""
    first = services.participant_create(actor=world.coordinator_a, site=world.site_a)
    surrogate = record(first, forms["surrogate"], world.investigator_a, hours_ago=5)
    continuation = record(first, forms["continuation"], world.investigator_a, hours_ago=2)
    services.participant_create(actor=world.coordinator_a, site=world.site_a)
    third = services.participant_create(actor=world.coordinator_a, site=world.site_a)
    world.coordinator_a.first_name = "=HYPERLINK(\"http://x\")"
    world.coordinator_a.save()
    patient = record(third, forms["patient"], world.coordinator_a, hours_ago=3)
    lil = services.participant_create(actor=world.coordinator_b, site=world.site_b)
    other = record(lil, forms["patient"], world.coordinator_b)
    return [surrogate, continuation, patient], other


@pytest.fixture(autouse=True)
def _restore_pdfs(request):
    """The consents' files are made once for the module: a test that alters or removes one gets it back after."""
    if "consents" not in request.fixturenames:
        yield
        return
    records, other = request.getfixturevalue("consents")
    saved = {Path(r.pdf.path): Path(r.pdf.path).read_bytes() for r in [*records, other]}
    yield
    for path, content in saved.items():
        path.write_bytes(content)


def entries(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as package:
        return {info.filename: package.read(info) for info in package.infolist()}


def export_bytes(site, **kwargs) -> bytes:
    with io.BytesIO() as handle:
        export.write_zip(site, handle, **kwargs)
        return handle.getvalue()


def index_rows(data: bytes) -> list[list[str]]:
    raw = entries(data)[export.INDEX]
    assert raw.startswith(b"\xef\xbb\xbf")
    return list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))


# --- The zip ----------------------------------------------------------------------------------------------------

def test_the_zip_holds_every_record_of_the_site_named_by_code(world, consents):
    records, other = consents
    files = entries(export_bytes(world.site_a))
    stamp = {r.pk: r.signed_at.astimezone(datetime.UTC).strftime("%Y-%m-%dT%H-%MZ") for r in records}
    surrogate, continuation, patient = records
    assert list(files) == [
        f"DIJ-0001/01_{stamp[surrogate.pk]}_surrogate_v1.0.pdf",
        f"DIJ-0001/02_{stamp[continuation.pk]}_continuation_v1.0.pdf",
        f"DIJ-0003/01_{stamp[patient.pk]}_patient_v1.0.pdf",
        "index.csv", "manifest.json", "SHA256SUMS"]
    for record_, name in zip(records, list(files)[:3], strict=True):
        assert hashlib.sha256(files[name]).hexdigest() == record_.pdf_sha256
        with record_.pdf.open("rb") as stored:
            assert files[name] == stored.read()
    assert not any(name.startswith("LIL") for name in files)
    assert other.pdf_sha256 not in files["manifest.json"].decode()


def test_index_has_one_row_per_record_with_both_times_and_formula_safe_cells(world, consents):
    records, _ = consents
    rows = index_rows(export_bytes(world.site_a))
    header, body = rows[0], rows[1:]
    assert header == ["Participant", "N° d'enregistrement", "Nature", "Qualité du signataire", "Version du formulaire",
                      "Langue du formulaire", "Décision", "Signé le (UTC)", "Signé le (Europe/Paris)",
                      "Enregistré le (UTC)", "Recueilli par", "Recueilli par (fonction)",
                      "Recueilli par (identifiant)", "État de l'enregistrement", "Fichier dans l'archive",
                      "Taille (octets)", "SHA-256 (enregistré à la signature)", "Contrôle du fichier"]
    assert len(body) == 3
    by_key = {(row[0], row[1]): dict(zip(header, row, strict=True)) for row in body}
    surrogate, continuation, patient = records
    first = by_key[("DIJ-0001", "1")]
    assert first["Qualité du signataire"] == "Proche"
    assert first["Signé le (UTC)"] == surrogate.signed_at.astimezone(datetime.UTC).isoformat(timespec="seconds")
    assert first["Signé le (Europe/Paris)"] == surrogate.signed_at.astimezone(PARIS).isoformat(timespec="seconds")
    assert first["État de l'enregistrement"] == "Suivi du n° 2"
    assert first["SHA-256 (enregistré à la signature)"] == surrogate.pdf_sha256
    assert first["Contrôle du fichier"] == "OK"
    assert first["Recueilli par (identifiant)"] == "investigator-a"
    second = by_key[("DIJ-0001", "2")]
    assert second["État de l'enregistrement"] == "Le plus récent du participant"
    assert second["Qualité du signataire"] == "Participant"
    assert second["Fichier dans l'archive"].startswith("DIJ-0001/02_")
    third = by_key[("DIJ-0003", "1")]
    assert third["Recueilli par"].startswith("'=HYPERLINK")  # shown as text by a spreadsheet, never run
    assert third["Taille (octets)"] == str(patient.pdf.size)


def test_manifest_and_sums_are_the_zips_inventory(world, consents):
    files = entries(export_bytes(world.site_a))
    manifest = json.loads(files["manifest.json"])
    assert manifest["format"] == export.FORMAT
    assert manifest["trial"]["nct_number"] == "NCT07063680" and manifest["site"]["code"] == "DIJ"
    assert manifest["records"] == 3 and manifest["participants"] == 2
    assert manifest["file_check"]["problems"] == []
    listed = {item["path"]: item for item in manifest["files"]}
    assert set(listed) == set(files) - {"manifest.json", "SHA256SUMS"}
    for path, item in listed.items():
        assert item["size"] == len(files[path]) and item["sha256"] == hashlib.sha256(files[path]).hexdigest()
    sums = dict(reversed(line.split("  ", 1)) for line in files["SHA256SUMS"].decode().splitlines())
    assert set(sums) == set(files) - {"SHA256SUMS"}
    assert all(hashlib.sha256(files[path]).hexdigest() == digest for path, digest in sums.items())


def test_same_records_give_the_same_bytes(world, consents, monkeypatch):
    first = export_bytes(world.site_a)
    later = timezone.now() + datetime.timedelta(days=3)
    monkeypatch.setattr(timezone, "now", lambda: later)
    assert export_bytes(world.site_a) == first
    with zipfile.ZipFile(io.BytesIO(first)) as package:
        records, _ = consents
        recorded = records[0].recorded_at.astimezone(datetime.UTC).timetuple()[:6]
        assert package.infolist()[0].date_time == (*recorded[:5], recorded[5] // 2 * 2)  # zip: 2-second steps
        assert {info.create_system for info in package.infolist()} == {3}
    # A new record changes the zip.
    participant = services.participant_create(actor=world.coordinator_a, site=world.site_a)
    monkeypatch.undo()
    record(participant, consents[0][2].version, world.coordinator_a)
    assert export_bytes(world.site_a) != first


def test_a_site_without_records_gives_an_index_with_its_header_only(world, forms):
    data = export_bytes(world.site_a)
    assert list(entries(data)) == ["index.csv", "manifest.json", "SHA256SUMS"]
    assert len(index_rows(data)) == 1
    assert json.loads(entries(data)["manifest.json"])["records"] == 0
    assert export_bytes(world.site_a) == data


def test_the_index_follows_the_language_asked(world, consents):
    header = index_rows(export_bytes(world.site_a, language="en"))[0]
    assert header[:3] == ["Participant", "Record no.", "Kind"] and "Signed at (Europe/Paris)" in header


def test_pdfs_are_copied_in_chunks(world, consents, monkeypatch):
    monkeypatch.setattr(export, "CHUNK", 1000)
    files = entries(export_bytes(world.site_a))
    assert hashlib.sha256(files[next(iter(files))]).hexdigest() == consents[0][0].pdf_sha256


# --- Integrity: a missing or altered file refuses the export ------------------------------------------------------

def tamper(record_):
    path = Path(record_.pdf.path)
    path.write_bytes(path.read_bytes() + b"\n% altered\n")


def test_an_altered_file_refuses_the_export_naming_the_record(world, consents):
    records, _ = consents
    tamper(records[1])
    Path(records[2].pdf.path).unlink()
    with pytest.raises(export.ExportRefused) as refused:
        export_bytes(world.site_a)
    problems = refused.value.problems
    assert [(p.participant, p.sequence, p.missing) for p in problems] == [("DIJ-0001", 2, False), ("DIJ-0003", 1, True)]
    assert problems[0].expected == records[1].pdf_sha256
    assert problems[0].actual == hashlib.sha256(Path(records[1].pdf.path).read_bytes()).hexdigest()


def test_a_flagged_copy_says_which_file_is_altered_or_missing(world, consents):
    records, _ = consents
    tamper(records[1])
    Path(records[2].pdf.path).unlink()
    data = export_bytes(world.site_a, strict=False, language="en")
    rows = {(row[0], row[1]): row for row in index_rows(data)[1:]}
    assert rows[("DIJ-0001", "1")][-1] == "OK"
    assert rows[("DIJ-0001", "2")][-1].startswith("MISMATCH: the file's SHA-256 is ")
    assert rows[("DIJ-0001", "2")][-2] == records[1].pdf_sha256  # the stored hash, as recorded at signing
    assert rows[("DIJ-0003", "1")][-1] == "MISSING" and rows[("DIJ-0003", "1")][-4] == ""
    problems = json.loads(entries(data)["manifest.json"])["file_check"]["problems"]
    assert [(p["participant"], p["sequence"], p["missing"]) for p in problems] == [
        ("DIJ-0001", 2, False), ("DIJ-0003", 1, True)]
    assert not any(name.startswith("DIJ-0003") for name in entries(data))


# --- The command ----------------------------------------------------------------------------------------------

def run(*args):
    out, err = io.StringIO(), io.StringIO()
    call_command("export_site_consents", *map(str, args), stdout=out, stderr=err)
    return out.getvalue() + err.getvalue()


def test_command_writes_the_zip_and_audits_it(world, consents, tmp_path):
    out = tmp_path / "dij.zip"
    message = run("nct07063680", "dij", out)
    data = out.read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    assert "3 consent record(s) of 2 participant(s)" in message and digest in message
    assert data == export_bytes(world.site_a)
    assert oct(out.stat().st_mode & 0o777) == "0o600"
    entry = AuditEntry.objects.get(action=export.EXPORTED)
    assert entry.actor is None and entry.trial_id == world.trial.pk
    assert entry.object_type == "regulatory.investigationalsite" and entry.object_id == str(world.site_a.pk)
    assert entry.changes["sha256"] == [None, digest] and entry.changes["records"] == [None, 3]
    assert entry.changes["participants"] == [None, 2] and entry.changes["file_problems"] == [None, 0]
    assert list(tmp_path.iterdir()) == [out]


@pytest.mark.parametrize(("args", "message"), [
    (("NCT99999999", "DIJ"), "No trial NCT99999999"),
    (("NCT07063680", "BOR"), "No site BOR in NCT07063680 (its sites: DIJ, LIL)"),
])
def test_command_refuses_unknown_trials_and_sites_and_writes_nothing(world, tmp_path, args, message):
    with pytest.raises(CommandError, match=message.replace("(", r"\(").replace(")", r"\)")):
        run(*args, tmp_path / "x.zip")
    assert list(tmp_path.iterdir()) == []
    assert not AuditEntry.objects.filter(action__startswith="consent.records_export").exists()


def test_command_refuses_a_missing_folder_or_an_existing_file(world, consents, tmp_path):
    with pytest.raises(CommandError, match="does not exist"):
        run("NCT07063680", "DIJ", tmp_path / "nowhere" / "x.zip")
    with pytest.raises(CommandError, match="is a folder"):
        run("NCT07063680", "DIJ", tmp_path)
    existing = tmp_path / "x.zip"
    existing.write_bytes(b"earlier export")
    with pytest.raises(CommandError, match="exists"):
        run("NCT07063680", "DIJ", existing)
    assert existing.read_bytes() == b"earlier export"
    run("NCT07063680", "DIJ", existing, "--overwrite")
    assert zipfile.is_zipfile(existing)


def test_command_refuses_an_altered_file_and_leaves_nothing_behind(world, consents, tmp_path):
    records, _ = consents
    tamper(records[0])
    with pytest.raises(CommandError, match=r"Export refused, nothing written: 1 stored file\(s\)") as error:
        run("NCT07063680", "DIJ", tmp_path / "dij.zip")
    assert "DIJ-0001 no. 1: the signed PDF's SHA-256 is" in str(error.value)
    assert list(tmp_path.iterdir()) == []
    entry = AuditEntry.objects.get(action=export.REFUSED)
    assert entry.changes["file_problems"][1][0]["participant"] == "DIJ-0001"
    assert not AuditEntry.objects.filter(action=export.EXPORTED).exists()


def test_command_can_write_a_flagged_copy_and_exits_with_status_2(world, consents, tmp_path):
    records, _ = consents
    tamper(records[0])
    out = tmp_path / "dij.zip"
    with pytest.raises(CommandError, match="1 stored file") as error:
        run("NCT07063680", "DIJ", out, "--flag-mismatches")
    assert error.value.returncode == 2
    assert "Contrôle du fichier" in entries(out.read_bytes())["index.csv"].decode("utf-8-sig")
    assert AuditEntry.objects.get(action=export.EXPORTED).changes["file_problems"] == [None, 1]


# --- The download -----------------------------------------------------------------------------------------------

def download(client, site="dij"):
    response = client.get(URL.format(site=site))
    body = b"".join(response.streaming_content) if getattr(response, "streaming", False) else response.content
    return response, body


@pytest.mark.parametrize("persona", ["coordinator_a", "investigator_a", "sponsor", "qa", "inspector", "admin"])
def test_those_who_read_the_sites_participants_download_its_records(world, consents, as_user, persona):
    response, body = download(as_user(getattr(world, persona)))
    assert response.status_code == 200, persona
    assert response["Content-Type"] == "application/zip"
    assert response["Content-Disposition"] == 'attachment; filename="NCT07063680_DIJ_consentements.zip"'
    assert response["X-Content-SHA256"] == hashlib.sha256(body).hexdigest()
    assert body == export_bytes(world.site_a)  # a French user gets the same bytes as the command
    entry = AuditEntry.objects.get(action=export.EXPORTED)
    assert entry.actor == getattr(world, persona) and entry.changes["sha256"] == [None, response["X-Content-SHA256"]]
    assert entry.changes["destination"] == [None, "download"] and entry.ip_address == "127.0.0.1"


def test_an_inspectors_download_is_audited_by_their_middleware_too(world, consents, as_user):
    response, _ = download(as_user(world.inspector))
    assert response.status_code == 200
    seen = AuditEntry.objects.get(action="inspection.download")
    assert "consent-records/export" in seen.object_repr and "consentements.zip" in seen.changes["file"][1]


@pytest.mark.parametrize("persona", ["coordinator_b", "other_sponsor", "nobody"])
def test_nobody_else_gets_the_sites_records(world, consents, as_user, persona):
    response, _ = download(as_user(getattr(world, persona)))
    assert response.status_code == 404
    assert not AuditEntry.objects.filter(action=export.EXPORTED).exists()


def test_an_inspector_outside_their_window_or_its_sites_gets_nothing(world, consents, as_user):
    world.inspector_grant.sites.set([world.site_b])
    assert download(as_user(world.inspector))[0].status_code == 404
    world.inspector_grant.sites.set([world.site_a])
    assert download(as_user(world.inspector))[0].status_code == 200
    InspectorGrant.objects.filter(pk=world.inspector_grant.pk).update(ends_at=timezone.now())
    assert download(as_user(world.inspector))[0].status_code == 404


def test_anonymous_is_sent_to_log_in_and_an_unknown_site_is_a_404(world, consents, client, as_user):
    response, _ = download(client)
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")
    assert download(as_user(world.sponsor), site="xyz")[0].status_code == 404


def test_the_download_is_a_get(world, consents, as_user):
    assert as_user(world.coordinator_a).post(URL.format(site="dij")).status_code == 405
    assert not AuditEntry.objects.filter(action=export.EXPORTED).exists()


def test_a_download_with_an_altered_file_is_refused_and_says_why(world, consents, as_user):
    records, _ = consents
    tamper(records[2])
    response = as_user(world.sponsor).get(URL.format(site="dij"), follow=True)
    assert response.redirect_chain == [("/nct07063680/sites/dij/participants/", 302)]
    text = response.content.decode()
    assert "L&#x27;export des consentements a été refusé" in text and "DIJ-0003 n° 1" in text
    assert AuditEntry.objects.get(action=export.REFUSED).actor == world.sponsor
    assert not AuditEntry.objects.filter(action=export.EXPORTED).exists()


def test_the_participants_list_links_to_the_download(world, consents, as_user):
    for persona in ("coordinator_a", "inspector"):
        text = as_user(getattr(world, persona)).get("/nct07063680/sites/dij/participants/").content.decode()
        assert f'href="{URL.format(site="dij")}"' in text
        assert "Télécharger tous les consentements signés du site" in text
