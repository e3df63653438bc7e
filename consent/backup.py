"""Backup and restore of a whole installation: the database, every stored file, and a manifest with each file's
SHA-256 (`manage.py backup`, `manage.py restore`; README "Backup and restore").

A backup is a folder: `database.dump` (pg_dump's custom format) or `database.sqlite3` (SQLite's online backup),
`objects/<name>` for every file of the file store (the bucket, or the media folder), and `manifest.json`. The
database is dumped first, the files copied after: files are never rewritten once stored (every name is new), so
every file the dumped records point at is still there to copy; a file written in between is only an orphan.
Restore goes into a new, empty database and a new, empty bucket (or media folder), checks every hash of the backup
before writing anything, and checks the result: the audit trail's chain, every record's file and hash, every
signed PDF's signature. The signing keys (TRIALDOCS_PKI_DIR, the PKCS#12 files) are secrets kept out of backups:
back them up on their own.
"""

import hashlib
import json
import os
import shutil
import sqlite3
import subprocess  # nosec B404  # pg_dump / pg_restore / createdb, with argument lists, never a shell
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.core.files import File
from django.core.files.storage import default_storage
from django.db import connection
from django.utils import timezone

from cms.storage import ensure_bucket, is_object_store

from .stored_files import CHUNK, all_names, referenced_names

FORMAT = "trialdocs-backup/1"


class BackupError(Exception):
    pass


def _database() -> dict:
    return settings.DATABASES["default"]


def _is_postgres() -> bool:
    return connection.vendor == "postgresql"


def _pg_environment(database: dict) -> tuple[list[str], dict]:
    arguments = []
    if database.get("HOST"):
        arguments += ["-h", str(database["HOST"])]
    if database.get("PORT"):
        arguments += ["-p", str(database["PORT"])]
    if database.get("USER"):
        arguments += ["-U", str(database["USER"])]
    environment = dict(os.environ)
    if database.get("PASSWORD"):
        environment["PGPASSWORD"] = str(database["PASSWORD"])
    return arguments, environment


def _run(command: list[str], environment: dict) -> None:
    tool = shutil.which(command[0])
    if tool is None:
        raise BackupError(f"{command[0]} is not installed (Debian package postgresql-client).")
    done = subprocess.run([tool, *command[1:]], env=environment, capture_output=True, text=True, check=False)  # noqa: S603  # nosec B603
    if done.returncode != 0:
        raise BackupError(f"{command[0]} failed: {done.stderr.strip()[-2000:]}")


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _storage_description() -> dict:
    if is_object_store(default_storage):
        return {"backend": "s3", "bucket": default_storage.bucket_name, "prefix": default_storage.location}
    return {"backend": "filesystem", "location": str(default_storage.location)}


@dataclass
class BackupResult:
    folder: Path
    objects: int
    size: int


def backup(destination: Path) -> BackupResult:
    """Write a backup folder under `destination` (created); returns it. Nothing is left of a failed one."""
    destination = Path(destination)
    destination.mkdir(parents=True, exist_ok=True)
    stamp = timezone.now().strftime("%Y%m%d-%H%M%S")
    folder = destination / f"trialdocs-backup-{stamp}"
    suffix = 1
    while folder.exists():
        suffix += 1
        folder = destination / f"trialdocs-backup-{stamp}-{suffix}"
    partial = folder.with_name(folder.name + ".part")
    partial.mkdir(mode=0o700)  # it holds personal data: its owner only
    try:
        database = _dump_database(partial)
        referenced = referenced_names()  # at least what the dump points at (records are not deleted)
        objects, total = [], 0
        for name in all_names(default_storage):
            if name.rsplit("/", 1)[-1].startswith("."):
                continue
            target = partial / "objects" / name
            target.parent.mkdir(parents=True, exist_ok=True)
            digest, size = hashlib.sha256(), 0
            with default_storage.open(name, "rb") as source, target.open("wb") as copy:
                while chunk := source.read(CHUNK):
                    digest.update(chunk)
                    copy.write(chunk)
                    size += len(chunk)
            objects.append({"name": name, "size": size, "sha256": digest.hexdigest()})
            total += size
        missing = sorted(referenced - {entry["name"] for entry in objects})
        if missing:
            raise BackupError(f"{len(missing)} file(s) that records point at are missing from the file store "
                              f"(first: {missing[0]}); run `manage.py verify_files`.")
        manifest = {
            "format": FORMAT, "created_at": timezone.now().isoformat(), "database": database,
            "storage": _storage_description(), "objects": objects, "object_count": len(objects),
            "objects_size": total, "referenced_by_records": len(referenced),
        }
        (partial / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
        partial.rename(folder)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    return BackupResult(folder, len(objects), total)


def _dump_database(folder: Path) -> dict:
    database = _database()
    if _is_postgres():
        target = folder / "database.dump"
        arguments, environment = _pg_environment(database)
        _run(["pg_dump", "--format=custom", "--no-owner", "--no-privileges", *arguments, "--file", str(target),
              str(database["NAME"])], environment)
        engine = "postgresql"
    elif connection.vendor == "sqlite":
        if connection.in_atomic_block:  # SQLite's backup would wait for the transaction forever
            raise BackupError("Run the backup outside a transaction.")
        target = folder / "database.sqlite3"
        connection.ensure_connection()
        copy = sqlite3.connect(target)
        try:
            connection.connection.backup(copy)  # SQLite's online backup: a consistent snapshot
        finally:
            copy.close()
        engine = "sqlite"
    else:
        raise BackupError(f"No backup for the database engine {connection.vendor}.")
    return {"engine": engine, "file": target.name, "sha256": _file_sha256(target), "size": target.stat().st_size}


# --- Restore ------------------------------------------------------------------------------------------------------

def read_manifest(folder: Path) -> dict:
    folder = Path(folder)
    try:
        manifest = json.loads((folder / "manifest.json").read_text())
    except (OSError, ValueError) as error:
        raise BackupError(f"{folder} is not a TrialDocs backup (no readable manifest.json: {error}).") from error
    if manifest.get("format") != FORMAT:
        raise BackupError(f"{folder}: unknown backup format {manifest.get('format')!r}.")
    return manifest


def check_backup(folder: Path, manifest: dict) -> list[str]:
    """Every file of the backup present with its manifest's SHA-256."""
    problems = []
    database = folder / manifest["database"]["file"]
    if not database.is_file() or _file_sha256(database) != manifest["database"]["sha256"]:
        problems.append(f"{database.name}: missing or not matching the manifest's SHA-256")
    for entry in manifest["objects"]:
        path = folder / "objects" / entry["name"]
        if not path.resolve().is_relative_to((folder / "objects").resolve()):
            problems.append(f"{entry['name']}: a name outside the backup")
        elif not path.is_file() or _file_sha256(path) != entry["sha256"]:
            problems.append(f"objects/{entry['name']}: missing or not matching the manifest's SHA-256")
    return problems


def _database_is_empty() -> bool:
    return not connection.introspection.table_names()


def _storage_is_empty() -> bool:
    if is_object_store(default_storage):
        client = default_storage.connection.meta.client
        listing = client.list_objects_v2(Bucket=default_storage.bucket_name, MaxKeys=1,
                                         Prefix=f"{default_storage.location}/" if default_storage.location else "")
        return not listing.get("KeyCount")
    return not any(not name.rsplit("/", 1)[-1].startswith(".") for name in all_names(default_storage))


def _ensure_bucket() -> None:
    if not is_object_store(default_storage):
        Path(default_storage.location).mkdir(parents=True, exist_ok=True)
        return
    ensure_bucket(default_storage)


def _ensure_postgres_database(database: dict) -> None:
    arguments, environment = _pg_environment(database)
    try:
        connection.ensure_connection()
    except Exception:
        _run(["createdb", *arguments, str(database["NAME"])], environment)
        connection.close()


@dataclass
class RestoreResult:
    objects: int
    database: str


def restore(folder: Path) -> RestoreResult:
    """Restore the backup `folder` into the configured (new, empty) database and file store."""
    folder = Path(folder)
    manifest = read_manifest(folder)
    problems = check_backup(folder, manifest)
    if problems:
        raise BackupError("The backup is damaged, nothing was restored: " + "; ".join(problems[:10]))
    database, engine = _database(), manifest["database"]["engine"]
    if engine != connection.vendor:
        raise BackupError(f"This backup holds a {engine} database; the configured one is {connection.vendor}.")
    if engine == "postgresql":
        _ensure_postgres_database(database)
    if not _database_is_empty():  # (a new SQLite file is created empty by connecting)
        raise BackupError(f"The database {database['NAME']} is not empty: restore only into a new database.")
    _ensure_bucket()
    if not _storage_is_empty():
        raise BackupError("The file store is not empty: restore only into a new bucket (or an empty media folder).")

    source = folder / manifest["database"]["file"]
    if engine == "postgresql":
        arguments, environment = _pg_environment(database)
        _run(["pg_restore", "--no-owner", "--no-privileges", "--exit-on-error", *arguments, "--dbname",
              str(database["NAME"]), str(source)], environment)
    else:
        connection.close()
        original, copy = sqlite3.connect(source), sqlite3.connect(str(database["NAME"]))
        try:
            original.backup(copy)
        finally:
            original.close()
            copy.close()
    connection.close()  # the next query sees the restored database

    for entry in manifest["objects"]:
        with (folder / "objects" / entry["name"]).open("rb") as handle:
            written = default_storage._save(entry["name"], File(handle, name=entry["name"]))  # the same name
        if written != entry["name"]:
            raise BackupError(f"{entry['name']} was stored as {written}: the file store was not empty.")
    return RestoreResult(len(manifest["objects"]), str(database["NAME"]))
