"""The answer of a verification, `SignatureReport`: `valid`, and what explains it."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field


@dataclass(frozen=True)
class SignatureReport:
    """What `verify_pdf` found. `valid` is the one answer to act on; the rest explains it.

    `valid` is True only when the last signature is intact and trusted and nothing follows it but validation data.
    When something was changed after signing, `signed_revision_intact` still says whether the signed revision
    itself is intact and trusted, and `changes_after_signing` lists the changes, in words. `original_sha256` is the
    SHA-256 of the file as it stood once signed (its bytes up to the end of the signed revision and of the
    validation data after it): the same as `file_sha256` when nothing else follows; `recased_sha256` the same with
    the signature container's hexadecimal digits in the other letter case (a copy where only that was rewritten).
    """

    valid: bool
    intact: bool
    trusted: bool
    covers_whole_file: bool
    modified_after_signing: bool
    certified: bool
    signer_name: str
    signed_at: dt.datetime | None
    reason: str
    field_name: str
    signed_revision_sha256: str
    file_sha256: str
    problems: list[str] = field(default_factory=list)
    signed_revision_intact: bool = False
    changes_after_signing: list[str] = field(default_factory=list)
    original_sha256: str = ""
    recased_sha256: str = ""
    beyond_limits: bool = False
    level: str = ""  # PAdES baseline level found: B-B, B-T, B-LT or B-LTA
    archival_verdict: str = ""  # the long-term (AdES LTA) validation's answer, for B-LTA files
    timestamp_expires_at: dt.datetime | None = None  # when the last document timestamp's certificate expires


def _failure(file_sha256: str, problem: str) -> SignatureReport:
    return SignatureReport(
        valid=False, intact=False, trusted=False, covers_whole_file=False, modified_after_signing=False,
        certified=False, signer_name="", signed_at=None, reason="", field_name="", signed_revision_sha256="",
        file_sha256=file_sha256, problems=[problem],
    )
