"""The real object store of the tests: OpenStack Swift with its S3 API, started by `scripts/objectstore.sh` (which
installs its Debian packages when missing and run as root), on ports of its own so a running `make cluster` is left
alone. Never skipped: without Swift the tests that need it fail, saying how to install it."""

import os
import secrets
import subprocess  # nosec B404
from pathlib import Path

import pytest

from cms.storage import s3_options

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "scripts" / "objectstore.sh"
ENVIRONMENT = {
    "TRIALDOCS_SWIFT_BASE": os.environ.get("TRIALDOCS_TEST_SWIFT_BASE", "/tmp/trialdocs-test-swift"),  # noqa: S108  # nosec B108
    "TRIALDOCS_SWIFT_PORT": "8490", "TRIALDOCS_SWIFT_PORTS_FROM": "6420", "TRIALDOCS_SWIFT_MC_PORT": "11821",
    "TRIALDOCS_S3_BUCKET": "trialdocs-test",
}
ENDPOINT = f"http://127.0.0.1:{ENVIRONMENT['TRIALDOCS_SWIFT_PORT']}"
CREDENTIALS = {"access_key": "test:tester", "secret_key": "testing"}  # the local store's own (tempauth), not secrets


def objectstore(command: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(SCRIPT), command], env={**os.environ, **ENVIRONMENT}, capture_output=True,  # noqa: S603  # nosec B603
                          text=True, timeout=600, check=False)


def start() -> None:
    done = objectstore("start")
    if done.returncode != 0:
        pytest.fail(f"The object store (OpenStack Swift) could not be started: {done.stderr.strip()}", pytrace=False)


def stop() -> None:
    objectstore("stop")


def storages_for(bucket: str) -> dict:
    return {"default": {"BACKEND": "cms.storage.ObjectStorage",
                        "OPTIONS": s3_options(endpoint_url=ENDPOINT, bucket=bucket, **CREDENTIALS)},
            "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}}


def environment_for(bucket: str) -> dict:
    """The variables that point a TrialDocs process at `bucket` of the test store."""
    return {"TRIALDOCS_S3_ENDPOINT_URL": ENDPOINT, "TRIALDOCS_S3_BUCKET": bucket,
            "TRIALDOCS_S3_ACCESS_KEY_ID": CREDENTIALS["access_key"],
            "TRIALDOCS_S3_SECRET_ACCESS_KEY": CREDENTIALS["secret_key"], "TRIALDOCS_S3_REGION": "us-east-1"}


def new_bucket_name() -> str:
    return f"t-{secrets.token_hex(6)}"


def empty_and_remove(storage) -> None:
    client = storage.connection.meta.client
    try:
        while keys := [{"Key": item["Key"]} for item in
                       client.list_objects_v2(Bucket=storage.bucket_name).get("Contents", [])]:
            client.delete_objects(Bucket=storage.bucket_name, Delete={"Objects": keys})
        client.delete_bucket(Bucket=storage.bucket_name)
    except Exception:  # noqa: S110  # nosec B110  # best effort: a test that stopped the store cleans nothing
        pass


@pytest.fixture(scope="session")
def swift():
    """The test object store, running (started if it was not)."""
    start()
    return ENDPOINT


@pytest.fixture
def s3(swift, settings):
    """This test's files go to a new bucket of the object store; yields the storage."""
    from django.core.files.storage import default_storage

    from cms.storage import ensure_bucket

    settings.STORAGES = storages_for(new_bucket_name())
    ensure_bucket(default_storage)
    storage = default_storage._wrapped if hasattr(default_storage, "_wrapped") else default_storage
    yield storage
    empty_and_remove(storage)
