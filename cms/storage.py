"""Where stored files live: the local disk (`TRIALDOCS_MEDIA_ROOT`, the default) or an S3-compatible object store
(AWS S3, MinIO, Ceph RGW, OpenStack Swift's s3api) through django-storages, chosen by the environment.

Every file goes through Django's storage API (`STORAGES["default"]`): FileFields and `default_storage`, never a path
on disk. The bucket is private: files are streamed to the user by the views that check permissions; no URL of the
store is handed out but a one-minute presigned one built after a permission check, so nothing can be fetched or
listed around those views.
"""

import base64
import hashlib
import os
import secrets
from pathlib import PurePosixPath

from django.core.exceptions import ImproperlyConfigured

S3_BACKEND = "cms.storage.ObjectStorage"


def storages_from_environment(environ=os.environ) -> dict:
    """STORAGES for settings: the object store when TRIALDOCS_S3_ENDPOINT_URL or TRIALDOCS_S3_BUCKET is set, the
    local disk otherwise."""
    static = {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}
    endpoint = environ.get("TRIALDOCS_S3_ENDPOINT_URL", "").strip()
    bucket = environ.get("TRIALDOCS_S3_BUCKET", "").strip()
    if not endpoint and not bucket:
        return {"default": {"BACKEND": "django.core.files.storage.FileSystemStorage"}, "staticfiles": static}
    return {"default": {"BACKEND": S3_BACKEND, "OPTIONS": s3_options(
        endpoint_url=endpoint or None, bucket=bucket or "trialdocs",
        access_key=environ.get("TRIALDOCS_S3_ACCESS_KEY_ID", ""),
        secret_key=environ.get("TRIALDOCS_S3_SECRET_ACCESS_KEY", ""),
        region=environ.get("TRIALDOCS_S3_REGION", "").strip() or "us-east-1",
        addressing_style=environ.get("TRIALDOCS_S3_ADDRESSING_STYLE", "").strip() or "path",
        prefix=environ.get("TRIALDOCS_S3_PREFIX", "").strip().strip("/"),
        verify=environ.get("TRIALDOCS_S3_VERIFY_TLS", "1").strip() not in ("0", "false", "no"),
    )}, "staticfiles": static}


def s3_options(*, endpoint_url, bucket, access_key="", secret_key="", region="us-east-1", addressing_style="path",
               prefix="", verify=True) -> dict:
    from botocore.config import Config

    if addressing_style not in ("path", "virtual", "auto"):
        raise ImproperlyConfigured("TRIALDOCS_S3_ADDRESSING_STYLE must be path, virtual or auto.")
    options = {
        "endpoint_url": endpoint_url, "bucket_name": bucket, "region_name": region, "location": prefix,
        "addressing_style": addressing_style, "signature_version": "s3v4",
        "default_acl": None,  # private: the bucket's own policy, never public-read
        "querystring_auth": True, "querystring_expire": 60,  # never used to serve users (see url()), short anyway
        "file_overwrite": True,  # names are made unique by ObjectStorage.get_available_name, without a HEAD
        "verify": verify,
        # An unreachable store fails fast (the user gets a 503 within seconds), a slow one is retried once.
        "client_config": Config(connect_timeout=3, read_timeout=30, retries={"max_attempts": 2, "mode": "standard"},
                                signature_version="s3v4", s3={"addressing_style": addressing_style},
                                # Swift, Ceph and older MinIO reject the CRC checksums boto3 >= 1.36 sends by default
                                request_checksum_calculation="when_required",
                                response_checksum_validation="when_required"),
    }
    if access_key or secret_key:  # else boto3's own chain: instance role, ~/.aws, AWS_* variables
        options.update(access_key=access_key, secret_key=secret_key)
    return options


def _content_md5(params, **_):
    """Swift 2.30's multi-object delete wants Content-MD5; boto3 >= 1.36 sends a CRC32 instead."""
    body = params["body"] if isinstance(params["body"], bytes) else params["body"].encode()
    params["headers"]["Content-MD5"] = base64.b64encode(hashlib.md5(body, usedforsecurity=False).digest()).decode()


try:
    from storages.backends.s3 import S3Storage
except ImportError:  # pragma: no cover  # django-storages is a dependency; only a broken install lands here
    S3Storage = object


class ObjectStorage(S3Storage):
    """django-storages' S3 backend, as TrialDocs needs it: every saved name is new (a random folder, so two uploads
    of "protocol.pdf" at the same moment never overwrite each other, without a HEAD per save), no public URL."""

    @property
    def connection(self):
        connection = super().connection
        if not getattr(connection, "_trialdocs_hooked", False):
            connection.meta.client.meta.events.register("before-call.s3.DeleteObjects", _content_md5)
            connection._trialdocs_hooked = True
        return connection

    def get_available_name(self, name, max_length=None):
        path = PurePosixPath(name)
        folder = f"{path.parent}/" if str(path.parent) != "." else ""
        stem, suffix = path.stem, path.suffix
        unique = f"{folder}{secrets.token_hex(8)}/"
        if max_length is not None and len(unique) + len(stem) + len(suffix) > max_length:
            stem = stem[: max(1, max_length - len(unique) - len(suffix))]
        return f"{unique}{stem}{suffix}"

    def url(self, name, parameters=None, expire=None, http_method=None):
        """A presigned URL valid one minute (`querystring_expire`): only ever built after a permission check."""
        return super().url(name, parameters=parameters, expire=expire, http_method=http_method)


def is_object_store(storage) -> bool:
    return isinstance(storage, ObjectStorage) if S3Storage is not object else False


def unavailable_errors() -> tuple[type[BaseException], ...]:
    """The exceptions that mean "the object store cannot be reached or answered with a server error"."""
    try:
        from botocore.exceptions import BotoCoreError, ClientError
    except ImportError:  # pragma: no cover
        return ()
    return (BotoCoreError, ClientError)


def is_unavailable(error: BaseException) -> bool:
    """True for a store that is down, unreachable, or failing (5xx, timeouts, connection errors, credentials it
    refuses), False for an ordinary "no such key" (404), which callers treat as a missing file."""
    errors = unavailable_errors()
    if not errors or not isinstance(error, errors):
        return False
    response = getattr(error, "response", None)
    if response:
        code = str(response.get("Error", {}).get("Code", ""))
        status = response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0
        return code not in ("404", "NoSuchKey", "NotFound") and (status != 404 or code == "NoSuchBucket")
    return True


def ensure_bucket(storage) -> None:
    """Create the storage's bucket when it does not exist yet (a new installation, a restore)."""
    from botocore.exceptions import ClientError

    client = storage.connection.meta.client
    try:
        client.head_bucket(Bucket=storage.bucket_name)
    except ClientError as error:
        if str(error.response.get("Error", {}).get("Code")) not in ("404", "NoSuchBucket", "NotFound"):
            raise
        client.create_bucket(Bucket=storage.bucket_name)
