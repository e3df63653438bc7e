"""Renew a file's archive timestamp (run under faketime by test_long_term): IN OUT TSA_URL."""

import os
import sys
from pathlib import Path

import django

if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cms.settings.test")
    django.setup()
    from consent.signing import archival_timestamper, renew_archive_timestamp

    source, target, url = sys.argv[1:4]
    Path(target).write_bytes(renew_archive_timestamp(Path(source).read_bytes(), timestamper=archival_timestamper(url)))
