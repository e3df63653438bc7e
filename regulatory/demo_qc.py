"""Demo step: quality control of the TMF and the trial's milestones (issue 19).

Three documents filed by hand by the sponsor: the DIJ investigator's CV, QC-approved by the demo's TMF QC account
(`tmf-qc`); the LIL investigator's CV, rejected with its QC issue (missing signature); the trial management plan,
pending QC. Milestones: the first country approval and the clinical infrastructure at trial level, and the
activation of DIJ and LIL, each requiring a few artifacts — DIJ lacks its clinical trial agreement, LIL its CV
(rejected), the infrastructure its management plan (pending). Idempotent: a document is found by its title, a
milestone by its place.
"""

import datetime

from django.contrib.auth import get_user_model
from django.core.files.base import ContentFile

from .models import InvestigationalSite, QcStatus, TmfArtifact, TmfDocument, TmfMilestone, TrialMilestone
from .tmf import qc as tmf_qc
from .tmf import uploads as tmf_filing


def _pdf(title: str) -> bytes:
    from io import BytesIO

    from reportlab.lib.pagesizes import A4
    from reportlab.pdfgen import canvas

    buffer = BytesIO()
    page = canvas.Canvas(buffer, pagesize=A4)
    page.setTitle(title)
    page.drawString(72, 770, title)
    page.drawString(72, 750, "Document de démonstration (fictif) — TrialDocs")
    page.showPage()
    page.save()
    return buffer.getvalue()


def _file(demo, *, number, title, site=None, date):
    existing = TmfDocument.objects.filter(trial=demo.trial, title=title).first()
    if existing is not None:
        return existing, False
    upload = ContentFile(_pdf(title), name=f"{title[:40]}.pdf".replace(" ", "-"))
    document = tmf_filing.file_upload(
        actor=demo.sponsor, trial=demo.trial, artifact=TmfArtifact.objects.get(number=number),
        level="site" if site else "trial", site=site, country="", title=title, document_date=date, version="1",
        status=TmfDocument.Status.CURRENT, file=upload)
    demo.report["created"].append(f"TMF document {title}")
    return document, True


def _milestone(demo, *, number, level, artifacts, site=None, planned=None, actual=None):
    reference = TmfMilestone.objects.get(number=number)
    if TrialMilestone.objects.filter(trial=demo.trial, reference=reference, site=site, level=level).exists():
        return
    tmf_qc.milestone_save(actor=demo.sponsor, trial=demo.trial, reference=reference, level=level, site=site,
                          planned_date=planned, actual_date=actual,
                          artifacts=list(TmfArtifact.objects.filter(number__in=artifacts)))
    demo.report["created"].append(f"milestone #{number} {site.code if site else level}")


def load(demo) -> None:
    checker = get_user_model().objects.get(username="tmf-qc")
    sites = {site.code: site for site in InvestigationalSite.objects.filter(trial=demo.trial)}
    approved, created = _file(demo, number="05.02.04", title="CV du Dr Maxime Nguyen (investigateur principal, DIJ)",
                              site=sites["DIJ"], date=datetime.date(2026, 1, 10))
    if created and approved.qc_status == QcStatus.PENDING:
        tmf_qc.qc_approve(actor=checker, document=approved)
    rejected, created = _file(demo, number="05.02.04", title="CV de la Dr Jeanne Exemple (investigatrice, LIL)",
                              site=sites["LIL"], date=datetime.date(2026, 2, 20))
    if created and rejected.qc_status == QcStatus.PENDING:
        tmf_qc.qc_reject(actor=checker, document=rejected, category="missing_signature",
                         comment="La dernière page n'est ni signée ni datée par l'investigatrice.")
    _file(demo, number="01.01.02", title="Plan de gestion de l'essai v1", date=datetime.date(2026, 1, 5))

    _milestone(demo, number=1, level="trial", artifacts=["02.01.02"], planned=datetime.date(2026, 1, 15),
               actual=datetime.date(2026, 1, 15))
    _milestone(demo, number=2, level="trial", artifacts=["02.01.02", "01.01.02"], planned=datetime.date(2026, 1, 25))
    _milestone(demo, number=3, level="site", site=sites["DIJ"], artifacts=["02.01.02", "05.02.04", "05.02.12"],
               planned=datetime.date(2026, 1, 31), actual=datetime.date(2026, 1, 31))
    _milestone(demo, number=3, level="site", site=sites["LIL"], artifacts=["02.01.02", "05.02.04"],
               planned=datetime.date(2026, 3, 2))
