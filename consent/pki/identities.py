"""Reading signing identities (a PKCS#12 file in production, the demo PKI's PEM files otherwise), and the trust
anchors, certificates and CRLs that validation starts from."""

from __future__ import annotations

import os
import re
from pathlib import Path

from asn1crypto import crl as asn1_crl
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID
from django.conf import settings

from consent.signing import SigningIdentity, SigningUnavailable, to_asn1_certificate

PASSPHRASE_FILE = "key-passphrase"  # noqa: S105  # nosec B105  # a file name, not a secret
HINT = "Lancez `manage.py create_signing_identity` (ou configurez TRIALDOCS_SIGNING_P12 en production)."

_SITE_CODE = re.compile(r"^[A-Z]{2,6}$")
_P12_PREFIX = "TRIALDOCS_SIGNING_P12"


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


def known_certificates() -> list[asn1_x509.Certificate]:
    """Intermediate and service certificates that help build paths (the demo PKI's, outside production)."""
    if production_mode() or settings.TRIALDOCS_SIGNING_REFUSE_DEMO_PKI:
        return []
    found = []
    for path in sorted(pki_dir().glob("*.cert.pem")):
        certificate = _read_certificate(path)
        if certificate is not None:
            found.append(to_asn1_certificate(certificate))
    return found


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
    """The identity in `<stem>.cert.pem`/`<stem>.key.pem`, read once per process while the files are unchanged
    (decrypting a key costs some 60 ms; a signature should not pay it)."""
    try:
        stamp = tuple((p.stat().st_mtime_ns, p.stat().st_ino) for p in (
            directory / f"{stem}.cert.pem", directory / f"{stem}.key.pem", directory / PASSPHRASE_FILE,
            directory / "ca.cert.pem"))
    except OSError:
        return None
    key = (str(directory), stem)
    cached = _identities.get(key)
    if cached is not None and cached[0] == stamp:
        return cached[1]
    identity = _read_identity_uncached(directory, stem)
    if identity is not None:
        _identities[key] = (stamp, identity)
    return identity


_identities: dict[tuple[str, str], tuple[tuple, SigningIdentity]] = {}


def _read_identity_uncached(directory: Path, stem: str) -> SigningIdentity | None:
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
