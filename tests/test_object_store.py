"""Files in a real S3-compatible object store (OpenStack Swift, `scripts/objectstore.sh`): stored and streamed
through the permission-checked views, private, all-or-nothing, 503 while the store is down, moved from the local
disk, swept when orphaned, and the backup and restore drill."""

import hashlib
import io
import json
import os
import subprocess  # nosec B404
import sys
from pathlib import Path

import pytest
import requests
from django.conf import settings as django_settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection, transaction

from cms import files
from cms.storage import ObjectStorage
from consent import masters
from consent.models import ConsentRecord
from consent.tests.test_record_views import BASE, consent_post, participant  # noqa: F401  (fixture)
from consent.tests.test_records import forms, record  # noqa: F401  (fixture)
from regulatory.models import AuditEntry, TmfDocument
from regulatory.tests.test_tmf_views import BASE as TMF_BASE
from regulatory.tests.test_tmf_views import upload_post
from tests import objectstore
from tests.objectstore import s3, swift  # noqa: F401  (fixtures)

ROOT = Path(__file__).resolve().parent.parent


def keys(storage) -> list[str]:
    listing = storage.connection.meta.client.list_objects_v2(Bucket=storage.bucket_name)
    return sorted(item["Key"] for item in listing.get("Contents", []))


def local_files() -> list[Path]:
    return [p for p in Path(django_settings.MEDIA_ROOT).rglob("*") if p.is_file()]


def test_a_consent_and_a_tmf_document_go_to_the_private_bucket_and_come_back_only_through_the_views(
        world, forms, participant, as_user, s3):  # noqa: F811
    before_local = local_files()
    client = as_user(world.coordinator_a)
    url = f"{BASE}/dij/participants/{participant.code}/consent/{forms['patient'].pk}/"
    assert client.post(url, consent_post(forms["patient"], participant)).status_code == 302
    record_ = ConsentRecord.objects.get()
    assert as_user(world.sponsor).post(f"{TMF_BASE}upload/", upload_post(site=world.site_a.pk)).status_code == 302
    document = TmfDocument.objects.get(file_name__startswith="cv")

    assert keys(s3) == sorted([record_.pdf.name, document.file.name])
    assert local_files() == before_local  # nothing on the local disk
    stored = s3.connection.meta.client.get_object(Bucket=s3.bucket_name, Key=record_.pdf.name)["Body"].read()
    assert hashlib.sha256(stored).hexdigest() == record_.pdf_sha256

    pdf_url = f"{BASE}/dij/participants/{participant.code}/consents/1/pdf/"
    response = as_user(world.coordinator_a).get(pdf_url)
    assert response.status_code == 200 and b"".join(response.streaming_content) == stored
    assert as_user(world.coordinator_b).get(pdf_url).status_code == 404  # another site's staff
    # Private: neither the bucket's listing nor an object is readable without the store's credentials.
    for address in (f"{objectstore.ENDPOINT}/{s3.bucket_name}", f"{objectstore.ENDPOINT}/{s3.bucket_name}/",
                    f"{objectstore.ENDPOINT}/{s3.bucket_name}/{record_.pdf.name}"):
        anonymous = requests.get(address, timeout=10)
        assert anonymous.status_code >= 400 and record_.pdf.name.rsplit("/", 1)[-1] not in anonymous.text
        assert not anonymous.content.startswith(b"%PDF")


def test_an_object_whose_record_rolled_back_is_removed(world, forms, s3):  # noqa: F811
    participant_ = record.__globals__["new"](world)
    with pytest.raises(RuntimeError), transaction.atomic():
        made = record(world, participant_, forms["patient"])
        name = made.pdf.name
        assert s3.exists(name)
        raise RuntimeError("a later step of the request failed")
    assert files.discard_rolled_back() == [name]
    assert not s3.exists(name) and not ConsentRecord.objects.exists()
    kept = record(world, participant_, forms["patient"])  # committed (in the test's transaction): kept
    assert files.discard_rolled_back() == [] and s3.exists(kept.pdf.name)


def test_two_uploads_of_one_name_never_overwrite_each_other(s3):  # noqa: F811
    first = default_storage.save("tmf/2026/01/protocol.pdf", ContentFile(b"one"))
    second = default_storage.save("tmf/2026/01/protocol.pdf", ContentFile(b"two"))
    assert first != second and first.endswith("/protocol.pdf") and second.endswith("/protocol.pdf")
    assert default_storage.open(first).read() == b"one" and default_storage.open(second).read() == b"two"


def test_signed_masters_are_stored_in_the_bucket_and_verify(world, forms, s3):  # noqa: F811
    master = masters.signed_master(versions=[forms["patient"]], site=world.site_a, trial=world.trial)
    assert keys(s3) == [master.file.name]
    call_command("verify_files")  # raises on a missing file, a wrong hash or a signature that does not verify


def test_migrate_media_to_store_copies_verifies_and_changes_nothing_the_second_time(world, forms, settings):  # noqa: F811
    participant_ = record.__globals__["new"](world)
    made = [record(world, participant_, forms["patient"]) for _ in range(2)]  # on the local disk (the default)
    altered = record(world, record.__globals__["new"](world), forms["patient"])
    local = Path(settings.MEDIA_ROOT) / altered.pdf.name
    original = local.read_bytes()
    local.write_bytes(original + b"%altered")
    objectstore.start()
    settings.STORAGES = objectstore.storages_for(objectstore.new_bucket_name())
    audits = AuditEntry.objects.filter(action="storage.media_migrated")
    try:
        with pytest.raises(CommandError, match="2 file\\(s\\) copied.*1 problem"):
            call_command("migrate_media_to_store")
        assert sorted(keys(default_storage)) == sorted(r.pdf.name for r in made)
        local.write_bytes(original)  # repaired: the next run resumes with it alone
        call_command("migrate_media_to_store")
        assert sorted(keys(default_storage)) == sorted(r.pdf.name for r in [*made, altered])
        count = audits.count()
        out = io.StringIO()
        call_command("migrate_media_to_store", stdout=out)
        assert "0 file(s) copied, 3 already in the store" in out.getvalue() and audits.count() == count == 2
        call_command("verify_files")  # read from the store now
    finally:
        objectstore.empty_and_remove(default_storage._wrapped)


def test_sweep_orphan_files_lists_then_removes_them_audited(world, forms, s3):  # noqa: F811
    kept = record(world, record.__globals__["new"](world), forms["patient"])
    orphan = default_storage.save("signed/consents/orphan.pdf", ContentFile(b"left by a killed process"))
    out = io.StringIO()
    call_command("sweep_orphan_files", "--min-age", "0", stdout=out)
    assert orphan in out.getvalue() and kept.pdf.name not in out.getvalue() and s3.exists(orphan)
    call_command("sweep_orphan_files", "--min-age", "60", stdout=out)  # too young: left alone
    assert s3.exists(orphan)
    call_command("sweep_orphan_files", "--min-age", "0", "--delete", stdout=out)
    assert not s3.exists(orphan) and s3.exists(kept.pdf.name)
    entry = AuditEntry.objects.get(action="storage.orphans_swept")
    assert entry.changes["removed"] == [None, [orphan]]


def test_archival_completion_replaces_the_b_t_object(world, forms, s3, django_capture_on_commit_callbacks):  # noqa: F811
    """The worker's B-LTA completion stores a new object and removes the B-T one (its bytes start the new file)."""
    from consent.models import ArchivalFile

    with django_capture_on_commit_callbacks(execute=True):
        made = record(world, record.__globals__["new"](world), forms["patient"])
        first = made.pdf.name
        assert s3.exists(first)
    stored = ConsentRecord.objects.get(pk=made.pk)
    assert ArchivalFile.objects.get(record=made).state == "complete"
    assert stored.pdf.name != first and s3.exists(stored.pdf.name) and not s3.exists(first)


def test_sweep_orphan_files_keeps_every_kind_of_stored_file(world, forms, s3):  # noqa: F811
    """Signed delegation logs and fixity reports are records' files too: never swept as orphans."""
    from consent.stored_files import referenced_names
    from consent.tests.test_delegation import sign
    from regulatory.models import DelegationLogPrint
    from regulatory.tests.factories import make_nurse

    sign(world, staff=make_nurse(world.site_a))
    log = DelegationLogPrint.objects.filter(site=world.site_a).latest("number")
    assert log.file.name in referenced_names()
    out = io.StringIO()
    call_command("sweep_orphan_files", "--min-age", "0", "--delete", stdout=out)
    assert log.file.name not in out.getvalue() and s3.exists(log.file.name)


@pytest.mark.serial
def test_the_store_down_during_an_upload_is_a_503_nothing_written_and_it_recovers_without_restart(
        world, forms, participant, as_user, s3):  # noqa: F811
    client = as_user(world.coordinator_a)
    url = f"{BASE}/dij/participants/{participant.code}/consent/{forms['patient'].pk}/"
    audits = AuditEntry.objects.count()
    objectstore.stop()
    try:
        response = client.post(url, consent_post(forms["patient"], participant))
        assert response.status_code == 503
        assert "Le stockage des fichiers est indisponible" in response.content.decode()
        assert not ConsentRecord.objects.exists() and AuditEntry.objects.count() == audits
        assert client.get(f"{BASE}/dij/participants/{participant.code}/").status_code == 200  # the rest works
    finally:
        objectstore.start()
    assert keys(s3) == []  # nothing half-written
    response = client.post(url, consent_post(forms["patient"], participant))  # same process, no restart
    assert response.status_code == 302
    assert keys(s3) == [ConsentRecord.objects.get().pdf.name]


@pytest.mark.django_db(transaction=True)
def test_backup_and_restore_drill_into_a_new_database_and_a_new_bucket(world, forms, as_user, s3, tmp_path):  # noqa: F811
    participant_ = record.__globals__["new"](world)
    record(world, participant_, forms["patient"])
    masters.signed_master(versions=[forms["surrogate"]], site=world.site_a, trial=world.trial)
    assert as_user(world.sponsor).post(f"{TMF_BASE}upload/", upload_post(site=world.site_a.pk)).status_code == 302
    out = io.StringIO()
    call_command("backup", str(tmp_path / "backups"), stdout=out)
    folder = Path(out.getvalue().strip().splitlines()[-1])
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["object_count"] == 3 == len(keys(s3))

    bucket = objectstore.new_bucket_name()
    if connection.vendor == "postgresql":
        database = dict(connection.settings_dict, NAME=f"{connection.settings_dict['NAME']}_restored_{bucket[2:]}")
        url = (f"postgres://{database['USER'] or 'postgres'}@{database['HOST'] or '127.0.0.1'}:"
               f"{database['PORT'] or 5432}/{database['NAME']}")
    else:
        url = f"sqlite:///{tmp_path / 'restored.sqlite3'}"
    environment = {**os.environ, **objectstore.environment_for(bucket), "DATABASE_URL": url,
                   "DJANGO_SETTINGS_MODULE": "cms.settings.dev",
                   "TRIALDOCS_PKI_DIR": str(django_settings.TRIALDOCS_PKI_DIR),
                   "TRIALDOCS_MEDIA_ROOT": str(tmp_path / "unused-media")}

    def manage(*arguments):
        return subprocess.run([sys.executable, str(ROOT / "manage.py"), *arguments], env=environment, cwd=ROOT,  # noqa: S603  # nosec B603
                              capture_output=True, text=True, timeout=600, check=False)

    try:
        restored = manage("restore", str(folder))
        assert restored.returncode == 0, restored.stderr
        assert ("Audit trail intact; 3 stored files present with their hashes; 2 signed PDFs verified."
                in restored.stdout)
        trail = manage("verify_audit_trail")
        assert trail.returncode == 0 and "Audit trail intact" in trail.stdout, trail.stderr
        again = manage("restore", str(folder))  # never over an installation
        assert again.returncode != 0 and "not empty" in again.stderr
        victim = next((folder / "objects").rglob("*.pdf"))  # a damaged backup: refused before anything is written
        victim.write_bytes(victim.read_bytes()[:-10])
        with pytest.raises(CommandError, match="The backup is damaged, nothing was restored"):
            call_command("restore", str(folder))
    finally:
        if connection.vendor == "postgresql":
            subprocess.run(["dropdb", "--if-exists", "-h", database["HOST"] or "127.0.0.1", "-U",  # noqa: S603, S607  # nosec
                            database["USER"] or "postgres", database["NAME"]], check=False, capture_output=True)
        objectstore.empty_and_remove(ObjectStorage(**objectstore.storages_for(bucket)["default"]["OPTIONS"]))
