"""The demo PKI's certomancer configuration, `certomancer.yml` beside the keys: certomancer issues every
certificate from it, and its Animator serves from it the demo TSA, OCSP responder and CRLs."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from django.conf import settings

from .files import _write_private, _write_public
from .identities import pki_dir, production_mode

CONFIG_FILE = "certomancer.yml"
ARCH = "trialdocs"
DEMO_MARK = "DEMO / TEST - sans valeur légale"
CA_NAME = "TrialDocs demo CA (DEMO / TEST)"
_CA_VALID_YEARS = 30  # outlives the 25 years a trial's records are kept, so the demo can prove them at year 10


def services_url() -> str:
    """Where the demo PKI's Animator answers (TSA, OCSP, CRLs): `TRIALDOCS_PKI_SERVICES_URL`."""
    return settings.TRIALDOCS_PKI_SERVICES_URL.rstrip("/")


def demo_tsa_url(label: str = "tsa") -> str:
    """The demo TSA's URL as written in the demo PKI's configuration, or "" when there is none (or in production,
    or when the demo PKI is refused)."""
    if production_mode() or settings.TRIALDOCS_SIGNING_REFUSE_DEMO_PKI:
        return ""
    config = _read_config(pki_dir())
    if config is None:
        return ""
    return f"{config['external-url-prefix'].rstrip('/')}/{ARCH}/tsa/{label}"


def config_path(directory: Path | None = None) -> Path:
    return Path(directory or pki_dir()) / CONFIG_FILE


def load_certomancer_arch(directory: Path | None = None):
    """certomancer's view of the demo PKI (`certomancer.registry.PKIArchitecture`)."""
    import yaml
    from certomancer.registry import ArchLabel, CertomancerConfig

    directory = Path(directory or pki_dir())
    document = yaml.safe_load(config_path(directory).read_text())
    document["pki-architectures"][ARCH].pop("current", None)
    config = CertomancerConfig(document, key_search_dir=str(directory), lazy_load_keys=True)
    return config.get_pki_arch(ArchLabel(ARCH))


def certomancer_config_for_animator(directory: Path | None = None) -> Path:
    """The configuration file the Animator reads: `certomancer.yml` without this module's own "current" map,
    written beside it (0600: it holds the key passphrase)."""
    import yaml

    directory = Path(directory or pki_dir())
    document = yaml.safe_load(config_path(directory).read_text())
    document["pki-architectures"][ARCH].pop("current", None)
    target = directory / "animator.yml"
    _write_private(target, yaml.safe_dump(document, allow_unicode=True, sort_keys=False).encode())
    return target


def _read_config(directory: Path) -> dict | None:
    import yaml

    try:
        data = yaml.safe_load(config_path(directory).read_text())
        arch = data["pki-architectures"][ARCH]
        arch["certs"], arch["entities"]  # noqa: B018  # the shape this module writes
    except (OSError, TypeError, KeyError, yaml.YAMLError):
        return None
    return {"external-url-prefix": data.get("external-url-prefix", ""), "keys": data["keysets"][ARCH]["keys"],
            **arch}


def _new_config(now: dt.datetime) -> dict:
    return {
        "external-url-prefix": services_url(),
        "keys": {"ca": {"path": "ca.key.pem"}},
        "entity-defaults": {"country-name": "FR", "organizational-unit-name": DEMO_MARK},
        "entities": {"ca": {"common-name": CA_NAME, "organization-name": "TrialDocs"}},
        "certs": {"ca": {
            "subject": "ca", "issuer": "ca", "serial": 1,
            "validity": _validity(now - dt.timedelta(days=365), now + dt.timedelta(days=365 * _CA_VALID_YEARS)),
            "profiles": [{"id": "simple-ca", "params": {"max-path-len": 0, "crl-repo": "ca", "ocsp-service": "ca"}}],
        }},
        "services": {
            "ocsp": {"ca": {"for-issuer": "ca", "responder-cert": "ocsp", "signing-key": "ocsp"}},
            "crl-repo": {"ca": {"for-issuer": "ca", "signing-key": "ca", "simulated-update-schedule": "P7D"}},
            "time-stamping": {"tsa": {"signing-key": "tsa", "signing-cert": "tsa"},
                              "tsa2": {"signing-key": "tsa2", "signing-cert": "tsa2"}},
        },
        "current": {},
    }


def _validity(start: dt.datetime, end: dt.datetime) -> dict:
    return {"valid-from": start.strftime("%Y-%m-%dT%H:%M:%S+0000"), "valid-to": end.strftime("%Y-%m-%dT%H:%M:%S+0000")}


def _current_label(config: dict, stem: str) -> str:
    """The certificate label now in use for `stem` (after a rotation: `site-DIJ.2`, …)."""
    return config.get("current", {}).get(stem, stem)


def _write_config(directory: Path, config: dict, passphrase: bytes) -> None:
    import yaml

    document = {
        "external-url-prefix": config["external-url-prefix"],
        "keysets": {ARCH: {"path-prefix": ".", "default-password": passphrase.decode(), "keys": config["keys"]}},
        "pki-architectures": {ARCH: {
            "keyset": ARCH,
            **{name: config[name] for name in ("entity-defaults", "entities", "certs", "services", "current")},
        }},
    }
    # "current" is ours (which label each role signs with now); certomancer is given the file without it.
    _write_private(config_path(directory), yaml.safe_dump(document, allow_unicode=True, sort_keys=False).encode())


def _export_certificates(directory: Path) -> None:
    """Every certificate as certomancer issues it, as PEM: `<stem>.cert.pem` for the current one of each role,
    `<label>.cert.pem` for earlier ones (after a rotation)."""
    from certomancer.registry import CertLabel

    arch = load_certomancer_arch(directory)
    config = _read_config(directory)
    current = {label: stem for stem, label in config.get("current", {}).items()}
    for label in config["certs"]:
        certificate = arch.get_cert(CertLabel(label))
        name = current.get(label, label)
        pem = x509.load_der_x509_certificate(certificate.dump()).public_bytes(serialization.Encoding.PEM)
        path = directory / f"{name}.cert.pem"
        if not path.exists() or path.read_bytes() != pem:
            _write_public(path, pem)
