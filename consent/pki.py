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
"""

from __future__ import annotations

import datetime as dt
import os
import re
import secrets
import tempfile
from pathlib import Path

from asn1crypto import crl as asn1_crl
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from django.conf import settings

from consent.signing import SigningError, SigningIdentity, SigningUnavailable, to_asn1_certificate

__all__ = [
    "SigningUnavailable",
    "crls",
    "ensure_identities",
    "load_identity",
    "load_timestamping_identity",
    "pki_dir",
    "production_mode",
    "trust_roots",
]

DEMO_MARK = "DEMO / TEST - sans valeur légale"
CA_NAME = "TrialDocs demo CA (DEMO / TEST)"
SPONSOR_ROLE = "signature des documents maîtres"
SITE_ROLE = "signature des consentements"
TSA_NAME = "TrialDocs demo TSA (DEMO / TEST)"
PASSPHRASE_FILE = "key-passphrase"  # noqa: S105  # nosec B105  # a file name, not a secret
HINT = "Lancez `manage.py create_signing_identity` (ou configurez TRIALDOCS_SIGNING_P12 en production)."

_SITE_CODE = re.compile(r"^[A-Z]{2,6}$")
_P12_PREFIX = "TRIALDOCS_SIGNING_P12"
_CA_YEARS, _LEAF_YEARS = 10, 3
_RENEW_BEFORE = dt.timedelta(days=30)
_CRL_DAYS = 365


# --- reading identities -------------------------------------------------------------------------------------


def pki_dir() -> Path:
    return Path(settings.TRIALDOCS_PKI_DIR)


def production_mode() -> bool:
    """True once any PKCS#12 file is configured: from then on the demo PKI is neither used nor trusted."""
    return any(_p12_settings().values())


def load_identity(*, role: str, site_code: str | None = None) -> SigningIdentity:
    """The identity that signs for the sponsor (`role="sponsor"`) or for a site (`role="site"`, `site_code`).

    Raises `SigningUnavailable`, saying what to do, when none is configured.
    """
    if role not in ("sponsor", "site"):
        raise ValueError(f"Unknown signing role {role!r}: use 'sponsor' or 'site'.")
    if role == "site":
        site_code = _site_code(site_code or "")
        site_p12 = _p12_settings().get(f"{_P12_PREFIX}_{site_code}")
        if site_p12:
            return _load_p12(site_p12, _p12_password(site_code))
    if settings.TRIALDOCS_SIGNING_P12:
        return _load_p12(settings.TRIALDOCS_SIGNING_P12, _p12_password(None))
    who = "le promoteur" if role == "sponsor" else f"le site {site_code}"
    if production_mode():
        raise SigningUnavailable(
            f"Aucun certificat de signature pour {who} : définissez TRIALDOCS_SIGNING_P12 ou "
            f"{_P12_PREFIX}_{site_code or '<SITE>'}."
        )
    if settings.TRIALDOCS_SIGNING_REFUSE_DEMO_PKI:
        raise SigningUnavailable(
            f"Aucun certificat de signature pour {who} : la PKI de démonstration est refusée ici "
            "(TRIALDOCS_SIGNING_REFUSE_DEMO_PKI) ; configurez TRIALDOCS_SIGNING_P12."
        )
    directory = pki_dir()
    stem = "sponsor" if role == "sponsor" else f"site-{site_code}"
    identity = _read_identity(directory, stem)
    if identity is None:
        site_option = f" --site {site_code}" if site_code else ""
        raise SigningUnavailable(
            f"Aucune identité de signature pour {who} dans {directory}. "
            f"Lancez `manage.py create_signing_identity{site_option}`."
        )
    return identity


def load_timestamping_identity(directory: Path | None = None) -> SigningIdentity:
    """The demo TSA certificate and key, for pyHanko's in-process `DummyTimeStamper` (tests and the demo)."""
    identity = _read_identity(Path(directory or pki_dir()), "tsa")
    if identity is None:
        raise SigningUnavailable(f"Aucune autorité d'horodatage de démonstration. {HINT}")
    return identity


def trust_roots() -> list[asn1_x509.Certificate]:
    """Trust anchors for validation (asn1crypto objects, as `pyhanko_certvalidator.ValidationContext` takes them).

    Production: the self-signed roots inside the configured PKCS#12 files plus `TRIALDOCS_TRUST_ROOTS`.
    Otherwise: the demo CA (when created and not refused by `TRIALDOCS_SIGNING_REFUSE_DEMO_PKI`) plus
    `TRIALDOCS_TRUST_ROOTS`. Never the operating system's list.
    """
    roots: list[x509.Certificate] = []
    for path in settings.TRIALDOCS_TRUST_ROOTS:
        roots.extend(x509.load_pem_x509_certificates(Path(path).read_bytes()))
    if production_mode():
        for name, path in _p12_settings().items():
            if path:
                site_code = name.removeprefix(_P12_PREFIX).removeprefix("_") or None
                identity = _load_p12(path, _p12_password(site_code))
                roots.extend(c for c in (identity.certificate, *identity.chain) if c.issuer == c.subject)
    elif not settings.TRIALDOCS_SIGNING_REFUSE_DEMO_PKI:
        ca = _read_certificate(pki_dir() / "ca.cert.pem")
        if ca is not None:
            roots.append(ca)
    unique = {cert.fingerprint(hashes.SHA256()): cert for cert in roots}
    return [to_asn1_certificate(cert) for cert in unique.values()]


def crls() -> list[asn1_crl.CertificateList]:
    """Revocation lists known offline: the demo CA's CRL outside production, none in production."""
    if production_mode() or settings.TRIALDOCS_SIGNING_REFUSE_DEMO_PKI:
        return []
    path = pki_dir() / "ca.crl.pem"
    if not path.exists():
        return []
    crl = x509.load_pem_x509_crl(path.read_bytes())
    return [asn1_crl.CertificateList.load(crl.public_bytes(serialization.Encoding.DER))]


def _p12_settings() -> dict[str, str]:
    """TRIALDOCS_SIGNING_P12 and every TRIALDOCS_SIGNING_P12_<SITECODE> setting (their passwords excluded)."""
    found = {}
    for name in dir(settings):
        if name.startswith(_P12_PREFIX) and not name.endswith("PASSWORD"):
            found[name] = str(getattr(settings, name) or "")
    return found


def _p12_password(site_code: str | None) -> str:
    if site_code:
        own = getattr(settings, f"{_P12_PREFIX}_{site_code}_PASSWORD", "")
        if own:
            return own
    return settings.TRIALDOCS_SIGNING_P12_PASSWORD


def _load_p12(path: str | os.PathLike, password: str) -> SigningIdentity:
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise SigningUnavailable(f"Fichier PKCS#12 illisible ({path}) : {exc.strerror}.") from exc
    try:
        key, certificate, extra = pkcs12.load_key_and_certificates(data, password.encode() if password else None)
    except ValueError as exc:
        raise SigningUnavailable(f"Fichier PKCS#12 {path} : mot de passe erroné ou fichier invalide.") from exc
    if key is None or certificate is None:
        raise SigningUnavailable(f"Le fichier PKCS#12 {path} ne contient pas de clé et de certificat.")
    return SigningIdentity(
        certificate=certificate, key=key, chain=tuple(extra), display_name=_common_name(certificate)
    )


def _read_identity(directory: Path, stem: str) -> SigningIdentity | None:
    certificate = _read_certificate(directory / f"{stem}.cert.pem")
    key = _read_key(directory, stem)
    if certificate is None or key is None or certificate.public_key() != key.public_key():
        return None
    ca = _read_certificate(directory / "ca.cert.pem")
    return SigningIdentity(
        certificate=certificate,
        key=key,
        chain=(ca,) if ca is not None else (),
        display_name=_common_name(certificate),
    )


def _read_certificate(path: Path) -> x509.Certificate | None:
    try:
        return x509.load_pem_x509_certificate(path.read_bytes())
    except (OSError, ValueError):
        return None


def _read_key(directory: Path, stem: str):
    try:
        passphrase = (directory / PASSPHRASE_FILE).read_bytes().strip()
        return serialization.load_pem_private_key((directory / f"{stem}.key.pem").read_bytes(), passphrase)
    except (OSError, ValueError, TypeError):
        return None


def _common_name(certificate: x509.Certificate) -> str:
    names = certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    return str(names[0].value) if names else certificate.subject.rfc4514_string()


def _site_code(code: str) -> str:
    """Site codes become file names: only the codes the model accepts (2 to 6 capital letters)."""
    normalised = code.strip().upper()
    if not _SITE_CODE.match(normalised):
        raise ValueError(f"Code de site invalide : {code!r} (2 à 6 lettres, p. ex. DIJ).")
    return normalised


# --- creating the demo PKI ----------------------------------------------------------------------------------


def ensure_identities(
    *,
    sponsor_name: str,
    site_codes: list[str],
    directory: Path | None = None,
    site_names: dict[str, str] | None = None,
    force: bool = False,
) -> dict[str, str]:
    """Create what is missing in the demo PKI and keep what is there; `force` makes everything anew.

    Returns what happened to each item, in order: {"CA": "created", "CRL": "kept", "sponsor": ...,
    "site DIJ": ..., "TSA": ...}, each "created", "kept" or "regenerated" (a file was there but unusable,
    expiring, or issued by another CA). A new CA reissues every certificate already in the directory.
    """
    directory = _prepare_directory(Path(directory or pki_dir()))
    codes = list(dict.fromkeys(_site_code(code) for code in site_codes))
    site_names = {_site_code(code): name for code, name in (site_names or {}).items()}
    passphrase = _ensure_passphrase(directory, force=force)
    now = dt.datetime.now(dt.UTC)
    results: dict[str, str] = {}

    ca = None if force else _usable_pair(directory, "ca", issuer=None, now=now)
    if ca is None:
        results["CA"] = _created_or_regenerated(directory, "ca")
        ca = _create_ca(directory, passphrase, now)
        # Everything the old CA issued is now orphaned: reissue it, not just what was asked for.
        codes += [code for code in _existing_site_codes(directory) if code not in codes]
        force = True
    else:
        results["CA"] = "kept"
    ca_cert, ca_key = ca

    results["CRL"] = _ensure_crl(directory, ca_cert, ca_key, now=now, force=force)

    leaves = [("sponsor", "sponsor", _subject_name(sponsor_name, SPONSOR_ROLE), sponsor_name, False)]
    for code in codes:
        site = site_names.get(code) or f"Centre investigateur {code}"
        leaves.append((f"site {code}", f"site-{code}", _subject_name(f"{site} ({code})", SITE_ROLE), site, False))
    leaves.append(("TSA", "tsa", TSA_NAME, "TrialDocs", True))
    for label, stem, common_name, organisation, timestamping in leaves:
        if not force and _usable_pair(directory, stem, issuer=ca_cert, now=now) is not None:
            results[label] = "kept"
            continue
        status = _created_or_regenerated(directory, stem)
        _create_leaf(directory, stem, passphrase, ca_cert, ca_key, now=now, common_name=common_name,
                     organisation=organisation, timestamping=timestamping)
        results[label] = status
    return results


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


def _name(common_name: str, organisation: str) -> x509.Name:
    return x509.Name([
        x509.NameAttribute(NameOID.COUNTRY_NAME, "FR"),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, _fit(organisation, 64)),
        x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, DEMO_MARK),
        x509.NameAttribute(NameOID.COMMON_NAME, _fit(common_name, 64)),
    ])


def _create_ca(directory: Path, passphrase: bytes, now: dt.datetime):
    key = ec.generate_private_key(ec.SECP256R1())
    name = _name(CA_NAME, "TrialDocs")
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=365 * _CA_YEARS))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_key_usage(cert_sign=True), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    _write_private(directory / "ca.key.pem", _encrypted_pem(key, passphrase))
    _write_public(directory / "ca.cert.pem", certificate.public_bytes(serialization.Encoding.PEM))
    return certificate, key


def _create_leaf(directory, stem, passphrase, ca_cert, ca_key, *, now, common_name, organisation, timestamping):
    # pyHanko's DummyTimeStamper, and most TSAs, sign with RSA; people sign with EC P-256.
    key = rsa.generate_private_key(public_exponent=65537, key_size=3072) if timestamping else ec.generate_private_key(
        ec.SECP256R1()
    )
    not_after = min(now + dt.timedelta(days=365 * _LEAF_YEARS), ca_cert.not_valid_after_utc)
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(common_name, organisation))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_cert.public_key()), critical=False
        )
    )
    if timestamping:
        builder = builder.add_extension(_key_usage(timestamping=True), critical=True).add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.TIME_STAMPING]), critical=True
        )
    else:
        builder = builder.add_extension(_key_usage(), critical=True)
    certificate = builder.sign(ca_key, hashes.SHA256())
    _write_private(directory / f"{stem}.key.pem", _encrypted_pem(key, passphrase))
    _write_public(directory / f"{stem}.cert.pem", certificate.public_bytes(serialization.Encoding.PEM))


def _key_usage(*, cert_sign: bool = False, timestamping: bool = False) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=not cert_sign,
        content_commitment=not (cert_sign or timestamping),  # nonRepudiation
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=cert_sign,
        crl_sign=cert_sign,
        encipher_only=False,
        decipher_only=False,
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


def _encrypted_pem(key, passphrase: bytes) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(passphrase),
    )


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
