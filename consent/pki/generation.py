"""Creating and renewing the demo PKI (`manage.py create_signing_identity`, the demo, tests): what is missing,
unusable, expiring or issued by another CA is made anew, the rest is kept."""

from __future__ import annotations

import datetime as dt
import os
import secrets
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from django.conf import settings

from consent.signing import SigningError

from .config import _current_label, _export_certificates, _new_config, _read_config, _validity, _write_config
from .files import _write_private, _write_public
from .identities import _SITE_CODE, PASSPHRASE_FILE, _read_certificate, _read_key, _site_code, pki_dir

SPONSOR_ROLE = "signature des documents maîtres"
SITE_ROLE = "signature des consentements"
TSA_NAME = "TrialDocs demo TSA (DEMO / TEST)"
TSA2_NAME = "TrialDocs demo TSA 2 (DEMO / TEST)"
OCSP_NAME = "TrialDocs demo OCSP responder (DEMO / TEST)"

_CA_YEARS, _LEAF_YEARS = 10, 3
_TSA_YEARS, _TSA2_YEARS, _OCSP_YEARS = 5, 15, 15
_RSA_BITS = 2048
_RENEW_BEFORE = dt.timedelta(days=30)
_CRL_DAYS = 365


def ensure_identities(
    *,
    sponsor_name: str,
    site_codes: list[str],
    directory: Path | None = None,
    site_names: dict[str, str] | None = None,
    force: bool = False,
    rotate: list[str] | None = None,
) -> dict[str, str]:
    """Create what is missing in the demo PKI and keep what is there; `force` makes everything anew.

    The certificates are issued by certomancer from `certomancer.yml` (written here, beside the keys), the file
    its Animator reads to serve the demo TSA, OCSP responder and CRLs (`manage.py pki_services`): what it serves
    and what signs here are the same certificates. Each site and sponsor certificate names the OCSP responder
    and the CRL in its AIA and CRL distribution point extensions.

    Returns what happened to each item, in order: {"CA": "created", "CRL": "kept", "sponsor": ...,
    "site DIJ": ..., "TSA": ..., "TSA 2": ..., "OCSP": ...}, each "created", "kept", "regenerated" (a file was
    there but unusable, expiring, or issued by another CA) or "rotated" (`rotate` lists roles to give a new key
    and certificate: "sponsor" or site codes; the previous certificate stays in the configuration, so that what
    it signed keeps verifying). A new CA reissues every certificate already in the directory.
    """
    directory = _prepare_directory(Path(directory or pki_dir()))
    codes = list(dict.fromkeys(_site_code(code) for code in site_codes))
    rotating = {("sponsor" if item == "sponsor" else f"site-{_site_code(item)}") for item in (rotate or [])}
    site_names = {_site_code(code): name for code, name in (site_names or {}).items()}
    passphrase = _ensure_passphrase(directory, force=force)
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    config = None if force else _read_config(directory)
    results: dict[str, str] = {}

    ca_usable = config is not None and _usable_pair(directory, "ca", issuer=None, now=now) is not None
    if not ca_usable:
        results["CA"] = _created_or_regenerated(directory, "ca")
        codes += [code for code in _existing_site_codes(directory) if code not in codes]
        config = _new_config(now)
        _write_key(directory, "ca", passphrase, rsa_bits=_RSA_BITS)
        force = True
    else:
        results["CA"] = "kept"

    leaves = [("sponsor", "sponsor", _subject_name(sponsor_name, SPONSOR_ROLE), sponsor_name, "person")]
    for code in codes:
        site = site_names.get(code) or f"Centre investigateur {code}"
        leaves.append((f"site {code}", f"site-{code}", _subject_name(f"{site} ({code})", SITE_ROLE), site, "person"))
    leaves += [("TSA", "tsa", TSA_NAME, "TrialDocs", "tsa"), ("TSA 2", "tsa2", TSA2_NAME, "TrialDocs", "tsa2"),
               ("OCSP", "ocsp", OCSP_NAME, "TrialDocs", "ocsp")]
    changed = force
    for label, stem, common_name, organisation, kind in leaves:
        current = config["certs"].get(_current_label(config, stem))
        if not force and stem not in rotating and current is not None and _leaf_usable(directory, config, stem, now):
            results[label] = "kept"
            continue
        status = "rotated" if stem in rotating and current is not None else _created_or_regenerated(directory, stem)
        _add_leaf(config, directory, passphrase, stem, common_name, organisation, kind, now=now,
                  keep_previous=stem in rotating)
        results[label] = status
        changed = True
    if changed:
        _write_config(directory, config, passphrase)
        _export_certificates(directory)
    ca_cert = _read_certificate(directory / "ca.cert.pem")
    ca_key = _read_key(directory, "ca")
    results["CRL"] = _ensure_crl(directory, ca_cert, ca_key, now=now, force=force)
    order = ["CA", "CRL"]
    return {name: results[name] for name in order + [name for name in results if name not in order]}


def _prepare_directory(directory: Path) -> Path:
    """Refuse a PKI directory inside the git tree other than under var/ (ignored), then make it 0700."""
    resolved = directory.expanduser().resolve()
    base = Path(settings.BASE_DIR).resolve()
    if resolved.is_relative_to(base) and not resolved.is_relative_to(base / "var"):
        raise SigningError(
            f"Refus d'écrire des clés privées dans l'arbre git ({resolved}) : "
            f"choisissez TRIALDOCS_PKI_DIR sous {base / 'var'} ou hors du dépôt."
        )
    if not resolved.exists():
        resolved.mkdir(mode=0o700, parents=True)
    os.chmod(resolved, 0o700)
    return resolved


def _ensure_passphrase(directory: Path, *, force: bool) -> bytes:
    path = directory / PASSPHRASE_FILE
    if not force and path.exists():
        passphrase = path.read_bytes().strip()
        if passphrase:
            os.chmod(path, 0o600)
            return passphrase
    passphrase = secrets.token_urlsafe(32).encode()
    _write_private(path, passphrase + b"\n")
    return passphrase


def _usable_pair(directory: Path, stem: str, *, issuer: x509.Certificate | None, now: dt.datetime):
    """The (certificate, key) pair on disk, or None if missing, mismatched, expiring or not issued by `issuer`."""
    certificate = _read_certificate(directory / f"{stem}.cert.pem")
    key = _read_key(directory, stem)
    if certificate is None or key is None or certificate.public_key() != key.public_key():
        return None
    if certificate.not_valid_after_utc - _RENEW_BEFORE < now:
        return None
    try:
        certificate.verify_directly_issued_by(issuer or certificate)
    except (ValueError, TypeError, x509.InvalidSignature):
        return None
    return certificate, key


def _created_or_regenerated(directory: Path, stem: str) -> str:
    exists = (directory / f"{stem}.cert.pem").exists() or (directory / f"{stem}.key.pem").exists()
    return "regenerated" if exists else "created"


def _existing_site_codes(directory: Path) -> list[str]:
    codes = []
    for path in sorted(directory.glob("site-*.cert.pem")):
        code = path.name.removeprefix("site-").removesuffix(".cert.pem")
        if _SITE_CODE.match(code):
            codes.append(code)
    return codes


def _subject_name(who: str, role: str) -> str:
    """'<who> — <role>', shortening `who` so the common name fits the 64 (UTF-8 bytes, for pyca) X.509 allows."""
    suffix = f" — {role}"
    return _fit(who.strip(), 64 - len(suffix.encode())) + suffix


def _fit(text: str, limit: int) -> str:
    if len(text.encode()) <= limit:
        return text
    while len((text + "…").encode()) > limit:
        text = text[:-1]
    return text.rstrip() + "…"


def _leaf_usable(directory: Path, config: dict, stem: str, now: dt.datetime) -> bool:
    ca = _read_certificate(directory / "ca.cert.pem")
    certificate = _read_certificate(directory / f"{stem}.cert.pem")
    key = _read_key(directory, stem)
    if ca is None or certificate is None or key is None or certificate.public_key() != key.public_key():
        return False
    if stem != "tsa2" and certificate.not_valid_after_utc - _RENEW_BEFORE < now:
        return False
    return _issued_by(certificate, ca)


def _issued_by(certificate: x509.Certificate, issuer: x509.Certificate) -> bool:
    try:
        certificate.verify_directly_issued_by(issuer)
    except (ValueError, TypeError, x509.InvalidSignature):
        return False
    return True


def _add_leaf(config, directory, passphrase, stem, common_name, organisation, kind, *, now, keep_previous):
    previous = _current_label(config, stem)
    if keep_previous and previous in config["certs"]:
        # The previous key and certificate stay, under their own label and file names, for the Animator (its
        # OCSP answers) and for verification: what they signed keeps verifying.
        kept = previous if previous != stem else f"{stem}.1"
        (directory / f"{stem}.key.pem").replace(directory / f"{kept}.key.pem")
        (directory / f"{stem}.cert.pem").replace(directory / f"{kept}.cert.pem")
        config["keys"][previous] = {"path": f"{kept}.key.pem"}
        if previous == stem:  # relabel the first generation
            config["keys"][kept] = config["keys"].pop(stem)
            config["entities"][kept] = config["entities"].pop(stem)
            config["certs"][kept] = {**config["certs"].pop(stem), "subject": kept}
        generation = 2
        while f"{stem}.{generation}" in config["certs"]:
            generation += 1
        label = f"{stem}.{generation}"
    else:
        label = previous if previous in config["certs"] else stem
    key_file = f"{stem}.key.pem"
    _write_key(directory, stem, passphrase, rsa_bits=_RSA_BITS if kind != "person" else None)
    config["keys"][label] = {"path": key_file}
    config["entities"][label] = {"common-name": _fit(common_name, 64), "organization-name": _fit(organisation, 64)}
    serial = max((spec.get("serial", 1) for spec in config["certs"].values()), default=1) + 1
    # Backdated as in the checked recipe (people 30 days, services a year, the CA's start): the CA's weekly CRL a
    # validator finds was issued after the certificate's start, else past validation finds the certificate "not
    # yet valid" at the CRL's issue time and the proof fails (OUT_OF_BOUNDS_NO_POE).
    origin = dt.datetime.strptime(config["certs"]["ca"]["validity"]["valid-from"], "%Y-%m-%dT%H:%M:%S%z")
    start = max(origin, now - dt.timedelta(days=30 if kind == "person" else 365))
    years = {"tsa2": _TSA2_YEARS, "tsa": _TSA_YEARS, "ocsp": _OCSP_YEARS}.get(kind, _LEAF_YEARS)
    end = now + dt.timedelta(days=365 * years)  # tsa2, the successor TSA for renewals, outlives the first
    spec = {"subject": label, "issuer": "ca", "serial": serial, "validity": _validity(start, end)}
    if kind in ("tsa", "tsa2"):
        spec["extensions"] = [
            {"id": "key_usage", "critical": True, "smart-value": {"schema": "key-usage",
                                                                  "params": ["digital_signature"]}},
            {"id": "extended_key_usage", "critical": True, "value": ["time_stamping"]},
        ]
    elif kind == "ocsp":
        spec["profiles"] = ["ocsp-responder"]
    else:
        spec["profiles"] = ["digsig-commitment"]
    config["certs"][label] = spec
    config.setdefault("current", {})[stem] = label
    if kind == "ocsp":
        config["services"]["ocsp"]["ca"]["responder-cert"] = label
        config["services"]["ocsp"]["ca"]["signing-key"] = label
    if kind in ("tsa", "tsa2"):
        config["services"]["time-stamping"][stem] = {"signing-key": label, "signing-cert": label}


def _write_key(directory: Path, stem: str, passphrase: bytes, *, rsa_bits: int | None) -> None:
    # RSA for the CA (its self-signed certificate must come out byte-identical each time certomancer issues it,
    # and RSA PKCS#1 v1.5 signatures are deterministic), the TSAs and the OCSP responder; EC P-256 for people.
    key = rsa.generate_private_key(public_exponent=65537, key_size=rsa_bits) if rsa_bits else \
        ec.generate_private_key(ec.SECP256R1())
    _write_private(directory / f"{stem}.key.pem", _encrypted_pem(key, passphrase))


def _encrypted_pem(key, passphrase: bytes) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(passphrase),
    )


def _ensure_crl(directory: Path, ca_cert, ca_key, *, now: dt.datetime, force: bool) -> str:
    path = directory / "ca.crl.pem"
    if not force and path.exists():
        try:
            crl = x509.load_pem_x509_crl(path.read_bytes())
            if crl.is_signature_valid(ca_cert.public_key()) and crl.next_update_utc - _RENEW_BEFORE > now:
                return "kept"
        except (ValueError, TypeError):
            pass
    status = "regenerated" if path.exists() else "created"
    crl = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(ca_cert.subject)
        .last_update(now - dt.timedelta(minutes=5))
        .next_update(now + dt.timedelta(days=_CRL_DAYS))
        .add_extension(x509.CRLNumber(int(now.timestamp())), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    _write_public(path, crl.public_bytes(serialization.Encoding.PEM))
    return status
