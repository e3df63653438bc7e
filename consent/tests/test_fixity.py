"""Fixity (`manage.py verify_archive`, consent/fixity.py): every stored file read back against its record."""

import csv
import datetime
import hashlib
import io
from pathlib import Path

import pytest
from django.core.files.base import ContentFile
from django.core.management import call_command
from django.utils import translation

from consent.tests.test_records import forms, new, record  # noqa: F401 (the shared fixture of recorded forms)
from regulatory import tmf
from regulatory.models import TmfDocument


@pytest.fixture(autouse=True)
def english():
    with translation.override("en"):
        yield


def file_tmf_document(trial, data=b"%PDF-1.4\n% a letter\n%%EOF\n", *, site=None):
    document = TmfDocument(trial=trial, artifact=tmf.artifact("02.01.02"), level="trial", title="Protocole",
                           document_date=datetime.date(2026, 1, 5), version="1.0", file_name="protocole.pdf",
                           sha256=hashlib.sha256(data).hexdigest())
    document.file.save("protocole.pdf", ContentFile(data), save=True)
    return document


def run(tmp_path, *args):
    report = tmp_path / "report.csv"
    try:
        call_command("verify_archive", *args, "--csv", str(report), stdout=(out := io.StringIO()))
        code = 0
    except SystemExit as exit_:
        code = exit_.code
    return code, out.getvalue(), list(csv.DictReader(report.open(encoding="utf-8")))


def test_an_intact_archive_passes_and_each_kind_of_damage_is_reported(world, forms, tmp_path):  # noqa: F811
    dij = record(world, new(world), forms["patient"])
    lil = record(world, new(world, world.site_b), forms["patient"], actor=world.coordinator_b)
    letter = file_tmf_document(world.trial)

    code, out, rows = run(tmp_path)
    assert code == 0, out
    assert rows == [] and "no problem" in out and "2 signatures validated" in out

    # one consent PDF altered by a byte, one TMF file gone, the other consent untouched
    path = Path(dij.pdf.path)
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))
    letter.file.storage.delete(letter.file.name)

    code, out, rows = run(tmp_path)
    assert code == 1
    found = {(row["kind"], row["id"], row["problem"]) for row in rows}
    assert ("consent", str(dij.pk), "altered") in found
    assert ("consent", str(dij.pk), "signature") in found
    assert ("tmf", str(letter.pk), "missing") in found
    assert not any(row["id"] == str(lil.pk) and row["kind"] == "consent" for row in rows)
    assert "MISSING" in out and "ALTERED" in out

    # a site's scope: LIL's files only, all intact
    code, out, rows = run(tmp_path, "--trial", "NCT07063680", "--site", "LIL")
    assert code == 0 and rows == [] and "1 signatures validated" in out


def test_a_record_whose_digest_was_changed_in_the_database_is_reported(world, forms, tmp_path):  # noqa: F811
    consent = record(world, new(world), forms["patient"])
    type(consent).objects.filter(pk=consent.pk).update(pdf_sha256="0" * 64)
    code, _out, rows = run(tmp_path, "--site", "DIJ", "--trial", "NCT07063680")
    assert code == 1 and [(row["problem"], row["id"]) for row in rows] == [("altered", str(consent.pk))]


def test_an_unknown_trial_or_site_is_a_clear_error(world, tmp_path):
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="No trial NCT00000000"):
        call_command("verify_archive", "--trial", "NCT00000000", "--csv", str(tmp_path / "r.csv"))
    with pytest.raises(CommandError, match="No site XXX"):
        call_command("verify_archive", "--site", "XXX", "--csv", str(tmp_path / "r.csv"))
    assert not (tmp_path / "r.csv").exists()


# --- from the web: a background task, its report, the TMF home --------------------------------------------------


def test_the_sponsor_runs_the_check_from_the_tmf_home_and_downloads_the_report(world, forms, as_user):  # noqa: F811
    from regulatory.models import AuditEntry, FixityRun

    consent = record(world, new(world), forms["patient"])
    letter = file_tmf_document(world.trial)
    letter.file.storage.delete(letter.file.name)
    client = as_user(world.sponsor)
    home = client.get("/tmf/NCT07063680/")
    assert "encore été lancée d" in home.content.decode()  # "No fixity check has been run from here yet."

    response = client.post("/tmf/NCT07063680/fixity/")
    assert response.status_code == 302
    run = FixityRun.objects.get()
    assert run.state == "done" and run.problems == 1 and run.signatures == 1, run.error
    page = client.get("/tmf/NCT07063680/").content.decode()
    assert "1 problème trouvé." in page and f"/tmf/NCT07063680/fixity/{run.pk}/report/" in page

    download = client.get(f"/tmf/NCT07063680/fixity/{run.pk}/report/")
    assert download.status_code == 200
    rows = list(csv.DictReader(io.StringIO(b"".join(download.streaming_content).decode("utf-8"))))
    assert [(row["kind"], row["id"], row["problem"]) for row in rows] == [("tmf", str(letter.pk), "missing")]
    actions = list(AuditEntry.objects.filter(object_id=str(run.pk), object_type="regulatory.fixityrun")
                   .values_list("action", flat=True))
    assert sorted(actions) == ["archive.fixity_done", "archive.fixity_report_downloaded", "archive.fixity_requested"]
    assert consent.pk  # the consent record was checked, intact


@pytest.mark.parametrize("persona", ["inspector", "coordinator_a", "other_sponsor", "qa"])
def test_nobody_else_starts_a_check_or_reads_a_report(world, as_user, persona):
    from regulatory.models import FixityRun

    run = FixityRun.objects.create(trial=world.trial, requested_by=world.sponsor, state="done",
                                   report=ContentFile(b"kind\n", name="r.csv"))
    client = as_user(getattr(world, persona))
    assert client.post("/tmf/NCT07063680/fixity/").status_code in (403, 404)
    assert client.get(f"/tmf/NCT07063680/fixity/{run.pk}/report/").status_code in (403, 404)
    assert FixityRun.objects.count() == 1
    assert "Check every stored file now" not in client.get("/tmf/NCT07063680/").content.decode()


def test_a_second_check_while_one_is_under_way_is_refused_with_a_message(world, as_user):
    from regulatory.models import FixityRun

    FixityRun.objects.create(trial=world.trial, requested_by=world.sponsor, state="running")
    response = as_user(world.sponsor).post("/tmf/NCT07063680/fixity/", follow=True)
    assert "est déjà en cours" in response.content.decode()  # "already under way"
    assert FixityRun.objects.count() == 1
