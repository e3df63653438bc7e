"""Where signing certificates come from: PKCS#12 files in production, a local demo PKI otherwise.

Production sets `TRIALDOCS_SIGNING_P12` (and its password) for every signature, or per site
`TRIALDOCS_SIGNING_P12_<SITECODE>`; once any of them is set the demo PKI is never used, so a demo key left on a
server cannot sign a real record.

The demo PKI (`manage.py create_signing_identity`) lives in `TRIALDOCS_PKI_DIR`, outside git: a root CA whose
name says it is for demonstration and tests, a sponsor certificate, one certificate per site, an RSA
timestamping certificate for tests and the demo, and an empty CRL. Private keys are PEM (PKCS#8) encrypted
with AES-256 under a random passphrase kept in `key-passphrase` beside them; the directory is 0700 and the
keys and the passphrase 0600. The passphrase next to the keys does not stop someone who can read the whole
directory; it does make a key file copied on its own (a backup, a ticket attachment, a mistaken commit)
useless, and tools then refuse to use it silently.

Reading identities, trust anchors and CRLs: `identities`; creating and renewing the demo PKI: `generation`; its
certomancer configuration, which the Animator serves: `config`; writing its files: `files`.
"""

from consent.signing import SigningUnavailable

from .config import ARCH, CONFIG_FILE, certomancer_config_for_animator, config_path, demo_tsa_url
from .generation import ensure_identities
from .identities import (
    PASSPHRASE_FILE,
    crls,
    known_certificates,
    load_identity,
    load_timestamping_identity,
    pki_dir,
    production_mode,
    trust_roots,
)

__all__ = [
    "ARCH",
    "CONFIG_FILE",
    "PASSPHRASE_FILE",
    "SigningUnavailable",
    "certomancer_config_for_animator",
    "config_path",
    "crls",
    "demo_tsa_url",
    "ensure_identities",
    "known_certificates",
    "load_identity",
    "load_timestamping_identity",
    "pki_dir",
    "production_mode",
    "trust_roots",
]
