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
from cryptography.x509.oid import NameOID
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


# --- creating the demo PKI ----------------------------------------------------------------------------------


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


# --- the certomancer configuration of the demo PKI ------------------------------------------------------------

CONFIG_FILE = "certomancer.yml"
ARCH = "trialdocs"
TSA2_NAME = "TrialDocs demo TSA 2 (DEMO / TEST)"
OCSP_NAME = "TrialDocs demo OCSP responder (DEMO / TEST)"
_RSA_BITS = 2048
_CA_VALID_YEARS = 30  # outlives the 25 years a trial's records are kept, so the demo can prove them at year 10
_TSA_YEARS, _TSA2_YEARS, _OCSP_YEARS = 5, 15, 15


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


def _write_key(directory: Path, stem: str, passphrase: bytes, *, rsa_bits: int | None) -> None:
    # RSA for the CA (its self-signed certificate must come out byte-identical each time certomancer issues it,
    # and RSA PKCS#1 v1.5 signatures are deterministic), the TSAs and the OCSP responder; EC P-256 for people.
    key = rsa.generate_private_key(public_exponent=65537, key_size=rsa_bits) if rsa_bits else \
        ec.generate_private_key(ec.SECP256R1())
    _write_private(directory / f"{stem}.key.pem", _encrypted_pem(key, passphrase))


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
