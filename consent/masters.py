"""Signed masters: the printed PDF of approved consent-form versions, certified with the sponsor's signature.

The PDF of a given content is rendered identically every time; it is signed once and kept, so that every
copy handed out is byte-identical to a stored, verifiable master."""

import hashlib

from django.core.files.base import ContentFile
from django.db import IntegrityError, transaction
from django.utils import translation

from cms.files import save_whole
from regulatory import audit
from regulatory.models import InvestigationalSite, TrialPage
from regulatory.services import signatures_of

from . import archival, selectors
from .blocks import neutral
from .models import ConsentFormVersionPage, SignedMaster
from .pdf import FormToPrint, TrialHeader, render_forms
from .pki import load_identity
from .signing import SignatureRequest, sign_for_archive


def trial_header(trial: TrialPage) -> TrialHeader:
    return TrialHeader(short_name=trial.short_name, title=trial.title, nct_number=trial.nct_number,
                       sponsor=trial.sponsor_name)


def form_to_print(version: ConsentFormVersionPage, *, watermark: str) -> FormToPrint:
    with translation.override(version.language):  # the form's language, whoever prints it
        kind_label = str(version.get_kind_display())
        approval = selectors.approval_reference(version)
    return FormToPrint(
        title=version.title, kind=version.kind, kind_label=kind_label, version_number=version.version_number,
        version_date=f"{version.version_date:%d/%m/%Y}", approval_reference=approval,
        content_hash=version.content_hash, information=neutral(version.information),
        consent=neutral(version.consent), watermark=watermark, language=version.language,
        approvals=tuple(signature.meaning for signature in signatures_of(version)),
    )


def render(versions: list[ConsentFormVersionPage], *, site: InvestigationalSite | None, trial: TrialPage) -> bytes:
    forms = [form_to_print(v, watermark=selectors.watermark_for(v, site=site)) for v in versions]
    title = versions[0].title if len(versions) == 1 else f"Formulaires de consentement en vigueur — {site.code}"
    return render_forms(forms, header=trial_header(trial), title=title)


def signed_master(*, versions: list[ConsentFormVersionPage], site: InvestigationalSite | None,
                  trial: TrialPage, actor=None) -> SignedMaster:
    """The stored, sponsor-signed PDF of these versions as printed for `site` (or trial-wide)."""
    unsigned = render(versions, site=site, trial=trial)
    unsigned_sha256 = hashlib.sha256(unsigned).hexdigest()
    key = f"{site.code if site else 'trial'}:{unsigned_sha256}"
    existing = SignedMaster.objects.filter(key=key).first()
    if existing is not None:
        return existing
    identity = load_identity(role="sponsor")
    signed = sign_for_archive(unsigned, identity=identity, request=SignatureRequest(
        field_name="Promoteur", reason="Document maître approuvé — reproduction conforme",
        location=trial.sponsor_name, certify=True))
    sha256 = hashlib.sha256(signed).hexdigest()
    watermarks = sorted({selectors.watermark_for(v, site=site) for v in versions} - {""})
    try:
        with transaction.atomic():
            master = SignedMaster(key=key, site=site, watermark=", ".join(watermarks), sha256=sha256,
                                  unsigned_sha256=unsigned_sha256, signer=identity.display_name)
            save_whole(master.file, f"{sha256}.pdf", ContentFile(signed))  # a failure: 503 (StoredFilesMiddleware)
            try:
                master.save()
                master.versions.set(versions)
                archival.register(data=signed, master=master)
                audit.record(actor=actor, action="signedmaster.created", obj=master, object_repr=key[:255],
                             changes={"versions": [None, [str(v) for v in versions]], "sha256": [None, sha256]})
            except Exception:
                master.file.delete(save=False)  # no file without its record
                raise
    except IntegrityError:
        return SignedMaster.objects.get(key=key)  # printed at the same moment by someone else
    return master
