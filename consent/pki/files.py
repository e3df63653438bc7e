"""Writing the demo PKI's files, atomically: private ones (keys, passphrase, configuration) 0600, others 0644."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def _write_private(path: Path, data: bytes) -> None:
    _write_atomic(path, data, mode=0o600)


def _write_public(path: Path, data: bytes) -> None:
    _write_atomic(path, data, mode=0o644)


def _write_atomic(path: Path, data: bytes, *, mode: int) -> None:
    """Write beside the target then rename: a reader never sees half a key, and the mode is set before data."""
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
