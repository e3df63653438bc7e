"""The revocation status of a signing certificate, fetched from the OCSP responders and CRLs the certificates name:
checked at signing (`signing.sign_for_archive`), at the B-LTA completion and when a file without validation data is
verified (`consent.verification`)."""

import asyncio
import contextlib
import contextvars
import functools
import ssl
from dataclasses import dataclass

from asn1crypto import x509 as asn1_x509
from pyhanko_certvalidator import ValidationContext

# How long the check of the signer's certificate may take, in all (OCSP, CRL, issuers' status), before signing
# and when a B-T file is verified: past it, the status is unknown.
REVOCATION_CHECK_SECONDS = 5.0


@dataclass(frozen=True)
class RevocationStatus:
    """The signer certificate's revocation status as its OCSP responder or CRL gave it: `state` is "good",
    "revoked" (`revoked_at`, `reason`), "unknown" (not obtained: `detail` says why) or "unchecked" (the certificate
    names no OCSP responder or CRL, or does not lead to our trust anchors)."""

    state: str
    detail: str = ""
    revoked_at: object = None
    reason: str = ""


# Within `revocation_data_shared()`: the revocation data fetched for a certificate (OCSP responses, CRLs), by its
# SHA-256, reused for every later check of that certificate; `None` when they could not be had in this run.
_SHARED: contextvars.ContextVar[dict | None] = contextvars.ContextVar("trialdocs_revocation_data", default=None)


@contextlib.contextmanager
def revocation_data_shared():
    """Within this block, the revocation data of a certificate are fetched once and reused for every later check
    of it, whatever the moment checked (an OCSP answer or a CRL dates any revocation): a walk of the archive
    (`verify_archive`, `verify_files`) asks each site's OCSP responder once per certificate, not once per file, and
    a responder that does not answer costs its timeout once."""
    token = _SHARED.set({})
    try:
        yield
    finally:
        _SHARED.reset(token)


def names_revocation_service(certificate: asn1_x509.Certificate) -> bool:
    """Does the certificate say where its revocation status is published (an OCSP responder, a CRL)?"""
    return bool(certificate.ocsp_urls or certificate.crl_distribution_points)


async def async_revocation_status(certificate: asn1_x509.Certificate, other_certs=(), *, moment=None,
                                  crls=(), seconds: float | None = None) -> RevocationStatus:
    """The revocation status of `certificate` (and of the CAs above it) as of `moment` (default now), fetched
    from the OCSP responders and CRLs the certificates name, within `seconds` in all (`REVOCATION_CHECK_SECONDS`).

    A revocation dated after `moment` does not count (AdES: it does not affect a signature proven to exist
    before it); the data fetched now are accepted for a past `moment` (they date any revocation)."""
    from pyhanko_certvalidator.fetchers.aiohttp_fetchers import AIOHttpFetcherBackend

    if not names_revocation_service(certificate):
        return RevocationStatus("unchecked", "the certificate names no OCSP responder or CRL")
    seconds = REVOCATION_CHECK_SECONDS if seconds is None else seconds
    shared, key = _SHARED.get(), certificate.sha256
    if shared is not None and key in shared:
        if shared[key] is None:
            return RevocationStatus("unknown", "not obtained earlier in this run")
        ocsps, fetched_crls = shared[key]
        found = await _status_from(certificate, other_certs, moment=moment, seconds=seconds,
                                   ocsps=ocsps, crls=[*crls, *fetched_crls], fetchers=None)
        if found.state != "unknown":  # else the data kept do not answer for this moment: fetched again
            return found
    session = tls_session()
    backend = AIOHttpFetcherBackend(session, per_request_timeout=seconds)
    fetchers = backend.get_fetchers()
    try:
        found = await _status_from(certificate, other_certs, moment=moment, seconds=seconds, ocsps=(),
                                   crls=list(crls), fetchers=fetchers)
        if shared is not None:
            shared[key] = None if found.state == "unknown" else (
                list(fetchers.ocsp_fetcher.fetched_responses()), list(fetchers.crl_fetcher.fetched_crls()))
        return found
    finally:
        await backend.close()
        await session.close()


async def _status_from(certificate, other_certs, *, moment, seconds, ocsps, crls, fetchers) -> RevocationStatus:
    """`async_revocation_status` with the revocation data given (`ocsps`, `crls`) and, with `fetchers`, those
    fetched online."""
    from pyhanko_certvalidator import CertificateValidator
    from pyhanko_certvalidator.errors import RevokedError

    from consent import pki

    validation_context = ValidationContext(
        trust_roots=pki.trust_roots(), other_certs=[*other_certs, *pki.known_certificates()], crls=list(crls),
        ocsps=list(ocsps), allow_fetching=fetchers is not None, fetchers=fetchers, moment=moment,
        retroactive_revinfo=True, revocation_mode="hard-fail")
    try:
        validator = CertificateValidator(certificate, intermediate_certs=list(other_certs),
                                         validation_context=validation_context)
        await asyncio.wait_for(validator.async_validate_usage(key_usage=set()), timeout=seconds)
    except RevokedError as exc:
        reason = exc.reason.human_friendly if exc.reason is not None else ""
        return RevocationStatus("revoked", str(exc), exc.revocation_dt, reason)
    except TimeoutError:
        return RevocationStatus("unknown", f"no answer within {seconds:g} s")
    except Exception as exc:  # noqa: BLE001  # responder down, path not to our anchors, expired: no verdict here
        from pyhanko_certvalidator.errors import InsufficientRevinfoError, PathBuildingError

        if isinstance(exc, PathBuildingError):
            return RevocationStatus("unchecked", f"{type(exc).__name__}: {exc}")
        if isinstance(exc, InsufficientRevinfoError):
            return RevocationStatus("unknown", f"{type(exc).__name__}: {exc}")
        return RevocationStatus("unchecked", f"{type(exc).__name__}: {exc}")
    finally:
        await validation_context.aclose()
    return RevocationStatus("good")


def tls_session():
    """An aiohttp session for the PKI's services, on the process's TLS context (`tls_context`), for the running
    event loop (a session belongs to one loop: the caller closes it)."""
    import aiohttp

    return aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=tls_context()))


@functools.cache
def tls_context() -> ssl.SSLContext:
    """The process's TLS context for the PKI's services (OCSP responders, CRLs, the TSA): the system's trust
    store, loaded once. aiohttp's and pyHanko's default sessions build one per session, loading every CA
    certificate of the system each time (25-30 ms of CPU per signature, profiled)."""
    return ssl.create_default_context()


def fetching_context(*, moment=None) -> ValidationContext:
    """Trust anchors from `consent.pki`, revocation data fetched from the certificates' AIA and CRL distribution
    points, and required for every certificate: a missing OCSP response or CRL is an error, not a gap.

    `moment`: validate as of that past time (a signature timestamp's), with the revocation data fetched now taken
    as applying to it: they date any revocation (pyHanko's `retroactive_revinfo`; its caveat: a certificate hold
    released since would not be seen as having been in force then)."""
    from pyhanko_certvalidator.policy_decl import REQUIRE_REVINFO, CertRevTrustPolicy

    from consent import pki

    return ValidationContext(trust_roots=pki.trust_roots(), other_certs=pki.known_certificates(),
                             allow_fetching=True, moment=moment,
                             revinfo_policy=CertRevTrustPolicy(REQUIRE_REVINFO, retroactive_revinfo=moment is not None))
