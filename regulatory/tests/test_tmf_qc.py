"""Quality control of TMF documents (issue 19): pending → approved or rejected with a QC issue, four eyes, what
inspectors and completeness see, the QC metrics and exports, the index's QC column, the trial's milestones and the
activation gate."""

import csv
import datetime
import importlib
import io

import pytest
from django.apps import apps
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from regulatory import permissions, services
from regulatory.models import (
    AuditEntry,
    QcStatus,
    Role,
    SiteActivation,
    TmfArtifact,
    TmfArtifactMilestone,
    TmfDocument,
    TmfMilestone,
    TmfQcIssue,
    TmfSettings,
)
from regulatory.tests.factories import make_member, make_opinion, make_version
from regulatory.tmf import completeness, milestones, qc_metrics
from regulatory.tmf import qc as tmf_qc
from regulatory.tmf import uploads as tmf_filing

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
BASE = "/tmf/NCT07063680"
CV = "05.02.04"  # site level (Core)


@pytest.fixture
def qc_member(world):
    return make_member("tmf-qc", role=Role.TMF_QC, trial=world.trial)


def upload(world, *, actor=None, site=None, title="CV investigateur", replaces=None, number=CV,
           document_date=datetime.date(2026, 2, 1)):
    site = site or world.site_a
    level = "site" if TmfArtifact.objects.get(number=number).site_level else "trial"
    return tmf_filing.file_upload(
        actor=actor or world.sponsor, trial=world.trial, artifact=TmfArtifact.objects.get(number=number),
        level=level, site=site if level == "site" else None, country="", title=title, document_date=document_date,
        version="1", status=TmfDocument.Status.CURRENT, replaces=replaces,
        file=SimpleUploadedFile("cv.pdf", PDF, content_type="application/pdf"))


def audit_count(document=None):
    entries = AuditEntry.objects.all()
    if document is not None:
        entries = entries.filter(object_type="regulatory.tmfdocument", object_id=str(document.pk))
    return entries.count()


# --- The workflow -----------------------------------------------------------------------------------------------

def test_a_document_filed_by_hand_waits_for_qc_and_is_hidden_from_inspectors_until_approved(world, qc_member):
    document = upload(world)
    assert document.qc_status == QcStatus.PENDING
    assert document in permissions.tmf_documents_visible(world.sponsor, world.trial)
    assert document in permissions.tmf_documents_visible(world.qa, world.trial)
    assert document not in permissions.tmf_documents_visible(world.inspector, world.trial)

    tmf_qc.qc_approve(actor=qc_member, document=document)
    document.refresh_from_db()
    assert (document.qc_status, document.qc_by) == (QcStatus.APPROVED, qc_member)
    assert document in permissions.tmf_documents_visible(world.inspector, world.trial)
    entry = AuditEntry.objects.filter(action="tmf.qc_approved", object_id=str(document.pk)).get()
    assert entry.changes == {"qc_status": ["pending", "approved"]} and entry.actor_id == qc_member.pk


def test_completeness_counts_approved_documents_only_and_shows_pending_apart(world, qc_member):
    document = upload(world)
    dij = next(p for p in completeness.completeness(world.trial, world.sponsor).places if p.label == "DIJ")
    row = next(r for r in dij.rows if r.artifact.number == CV)
    assert (row.filed, row.pending, dij.pending) == (False, 1, 1)
    assert TmfArtifact.objects.get(number=CV) in dij.missing
    tmf_qc.qc_approve(actor=qc_member, document=document)
    dij = next(p for p in completeness.completeness(world.trial, world.sponsor).places if p.label == "DIJ")
    row = next(r for r in dij.rows if r.artifact.number == CV)
    assert (row.filed, row.documents, row.pending) == (True, 1, 0)


def test_nobody_checks_their_own_upload_four_eyes(world):
    both = make_member("sponsor-and-qc", role=Role.SPONSOR, trial=world.trial)
    services.role_grant(actor=None, user=both, role=Role.TMF_QC, trial=world.trial)
    document = upload(world, actor=both)
    before = audit_count()
    with pytest.raises(ValidationError, match="quatre yeux"):
        tmf_qc.qc_approve(actor=both, document=document)
    with pytest.raises(ValidationError, match="quatre yeux"):
        tmf_qc.qc_reject(actor=both, document=document, category="illegible", comment="Flou")
    document.refresh_from_db()
    assert document.qc_status == QcStatus.PENDING and audit_count() == before
    assert not TmfQcIssue.objects.exists()


@pytest.mark.parametrize("persona", ["sponsor", "qa", "admin", "inspector", "coordinator_a"])
def test_only_the_tmf_qc_role_decides(world, persona):
    document = upload(world)
    user = getattr(world, persona)
    assert not permissions.can_qc_tmf(user, world.trial)
    with pytest.raises(PermissionDenied):
        tmf_qc.qc_approve(actor=user, document=document)
    document.refresh_from_db()
    assert document.qc_status == QcStatus.PENDING


def test_the_qc_role_of_another_trial_does_not_decide_here(world):
    other = make_member("other-qc", role=Role.TMF_QC, trial=world.other_trial)
    with pytest.raises(PermissionDenied):
        tmf_qc.qc_approve(actor=other, document=upload(world))


@pytest.mark.parametrize(("category", "comment", "message"), [
    ("", "Signature absente", "catégorie"),
    ("not-a-category", "Signature absente", "catégorie"),
    ("missing_signature", "   ", "commentaire"),
    ("missing_signature", "x" * 2001, "trop long"),
], ids=["no category", "unknown category", "empty comment", "comment too long"])
def test_a_rejection_needs_a_known_category_and_a_comment_nothing_written(world, qc_member, category, comment,
                                                                         message):
    document = upload(world)
    before = audit_count()
    with pytest.raises(ValidationError, match=message):
        tmf_qc.qc_reject(actor=qc_member, document=document, category=category, comment=comment)
    document.refresh_from_db()
    assert document.qc_status == QcStatus.PENDING and document.qc_by is None
    assert audit_count() == before and not TmfQcIssue.objects.exists()


def test_a_rejected_document_is_corrected_by_a_new_version_which_closes_its_issue(world, qc_member):
    document = upload(world)
    issue = tmf_qc.qc_reject(actor=qc_member, document=document, category="missing_signature",
                             comment="La page 2 n'est pas signée.")
    document.refresh_from_db()
    assert document.qc_status == QcStatus.REJECTED and issue.closed_at is None
    assert issue.category_label == "Signature manquante"
    assert document not in permissions.tmf_documents_visible(world.inspector, world.trial)
    with pytest.raises(ValidationError, match="plus en attente de CQ"):
        tmf_qc.qc_approve(actor=qc_member, document=document)

    corrected = upload(world, title="CV investigateur signé", replaces=document)
    issue.refresh_from_db()
    assert (issue.corrected_by, issue.closed_by) == (corrected, world.sponsor) and issue.closed_at is not None
    assert corrected.qc_status == QcStatus.PENDING
    document.refresh_from_db()
    assert document.status == TmfDocument.Status.SUPERSEDED
    actions = list(AuditEntry.objects.filter(object_type="regulatory.tmfdocument", object_id=str(document.pk))
                   .order_by("sequence").values_list("action", flat=True))
    assert actions == ["tmf.document_filed", "tmf.qc_rejected", "tmf.qc_issue_closed", "tmf.document_superseded"]
    tmf_qc.qc_approve(actor=qc_member, document=corrected)
    assert corrected in permissions.tmf_documents_visible(world.inspector, world.trial)


def test_automatic_filings_are_approved_unless_the_sponsor_asks_for_their_qc(world):
    v1 = make_version(trial=world.trial, number="1.0")
    automatic = TmfDocument.objects.get(source_id=str(v1.pk), artifact__number="02.01.02")
    assert automatic.qc_status == QcStatus.APPROVED and automatic.qc_by is None
    tmf_qc.settings_save(actor=world.sponsor, trial=world.trial, qc_automatic=True, timeliness_days=30,
                         activation_gate=False)
    v2 = make_version(trial=world.trial, number="1.1", amendment=1, non_substantial_justification="Rédactionnel.")
    assert TmfDocument.objects.get(source_id=str(v2.pk), artifact__number="02.01.04").qc_status == QcStatus.PENDING
    assert AuditEntry.objects.filter(action="tmf.settings_changed").exists()


def test_the_data_migration_approves_documents_left_pending(world):
    document = upload(world)
    migration = importlib.import_module("regulatory.migrations.0019_qc_existing_documents_and_milestones")
    migration.approve_existing(apps, None)
    document.refresh_from_db()
    assert document.qc_status == QcStatus.APPROVED


# --- Pages --------------------------------------------------------------------------------------------------------

def test_the_qc_member_approves_and_rejects_from_the_pages(world, client, qc_member):
    first, second = upload(world, title="Premier"), upload(world, title="Second")
    client.force_login(qc_member)
    page = client.get(f"{BASE}/qc/").content.decode()
    assert "Premier" in page and "Second" in page
    response = client.post(f"{BASE}/documents/{first.pk}/qc/", {"decision": "approve", "next": "qc"})
    assert response.status_code == 302 and response["Location"] == f"{BASE}/qc/"
    response = client.post(f"{BASE}/documents/{second.pk}/qc/", {"decision": "reject", "category": "",
                                                                  "comment": "Illisible"}, follow=True)
    assert "Choisissez la catégorie" in response.content.decode()
    second.refresh_from_db()
    assert second.qc_status == QcStatus.PENDING
    client.post(f"{BASE}/documents/{second.pk}/qc/", {"decision": "reject", "category": "illegible",
                                                      "comment": "Scan illisible"})
    page = client.get(f"{BASE}/documents/{second.pk}/").content.decode()
    assert "Scan illisible" in page and "Illisible" in page and "rejeté au CQ" in page


def test_the_sponsor_sees_pending_marked_and_cannot_decide(world, client):
    document = upload(world, title="En attente")
    client.force_login(world.sponsor)
    page = client.get(f"{BASE}/artifact/{CV}/").content.decode()
    assert "En attente" in page and "EN ATTENTE DE CQ" in page
    assert client.post(f"{BASE}/documents/{document.pk}/qc/", {"decision": "approve"}).status_code == 404
    client.force_login(world.inspector)
    assert "En attente" not in client.get(f"{BASE}/artifact/{CV}/").content.decode()
    assert client.get(f"{BASE}/documents/{document.pk}/").status_code == 404
    assert client.get(f"{BASE}/qc/").status_code == 404


# --- Metrics --------------------------------------------------------------------------------------------------

def test_percentile_is_the_nearest_rank():
    assert qc_metrics.percentile([], 90) is None
    assert qc_metrics.percentile([5], 90) == 5
    assert qc_metrics.percentile(list(range(1, 11)), 90) == 9
    assert qc_metrics.percentile(list(range(1, 11)), 50) == 5


def test_qc_metrics_per_trial_country_and_site(world, qc_member):
    now = timezone.now()
    documents = [upload(world, title=f"D{i}", site=world.site_a if i < 3 else world.site_b,
                        document_date=datetime.date(2020, 1, 1) if i == 0 else timezone.localdate())
                 for i in range(5)]
    tmf_qc.qc_approve(actor=qc_member, document=documents[0])
    tmf_qc.qc_reject(actor=qc_member, document=documents[1], category="illegible", comment="Flou")
    tmf_qc.qc_reject(actor=qc_member, document=documents[3], category="missing_pages", comment="Page 3")
    # Filed 2, 4 and 10 days before their decision.
    for document, days in ((documents[0], 2), (documents[1], 4), (documents[3], 10)):
        TmfDocument.objects.filter(pk=document.pk).update(filed_at=now - datetime.timedelta(days=days), qc_at=now)
    result = qc_metrics.report(world.sponsor, world.trial)
    trial, france = result.places[0], result.places[1]
    dij, lil = (next(p for p in result.places if p.label == code) for code in ("DIJ", "LIL"))
    assert (trial.pending, dij.pending, lil.pending, france.pending) == (2, 1, 1, 2)
    assert (trial.decided, trial.median_days, trial.p90_days) == (3, 4.0, 10.0)
    assert (trial.rejected, trial.rejection_rate, trial.rate("illegible"), trial.rate("missing_pages")) == (
        2, 66.7, 33.3, 33.3)
    assert (dij.decided, dij.rejection_rate, lil.rate("missing_pages")) == (2, 50.0, 100.0)
    assert (trial.timed, trial.on_time) == (5, 4)  # D0 is dated 2020: filed years late
    rows = qc_metrics.export_rows(result)
    assert rows[0][:3] == ["Lieu", "Niveau", "En attente de CQ"] and len(rows) == 1 + len(result.places)


def test_qc_exports_are_formula_safe(world, client, settings, qc_member):
    settings.TRIALDOCS_QC_CATEGORIES = (("evil", "=HYPERLINK(\"http://x\")"), ("other", "Autre"))
    document = upload(world)
    tmf_qc.qc_reject(actor=qc_member, document=document, category="evil", comment="x")
    client.force_login(world.sponsor)
    response = client.get(f"{BASE}/qc/?format=csv")
    header = next(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert any(cell.startswith("'") and "HYPERLINK" in cell for cell in header) or not any(
        cell.startswith("=") for cell in header)
    assert not any(cell.startswith("=") for cell in header)
    response = client.get(f"{BASE}/qc/?format=xlsx")
    from openpyxl import load_workbook

    sheet = load_workbook(io.BytesIO(response.content)).active
    assert all(cell.data_type != "f" for row in sheet.iter_rows() for cell in row)
    page = client.get(f"{BASE}/qc/").content.decode()
    assert "<svg" in page and "style=" not in page.split("<svg", 1)[1].split("</svg>", 1)[0]


def test_the_qc_page_keeps_a_flat_query_count(world, client, qc_member):
    client.force_login(qc_member)
    upload(world)
    tmf_qc.qc_reject(actor=qc_member, document=upload(world), category="other", comment="x")
    with CaptureQueriesContext(connection) as few:
        assert client.get(f"{BASE}/qc/").status_code == 200
    for index in range(8):
        tmf_qc.qc_reject(actor=qc_member, document=upload(world, title=f"T{index}",
                                                         site=(world.site_a, world.site_b)[index % 2]),
                         category="other", comment="x")
    with CaptureQueriesContext(connection) as many:
        assert client.get(f"{BASE}/qc/").status_code == 200
    assert len(many) == len(few)


def test_the_tmf_index_has_a_qc_status_column(world, tmp_path, qc_member):
    tmf_qc.qc_approve(actor=qc_member, document=upload(world, title="Approuvé"))
    upload(world, title="En attente")
    out = tmp_path / "index.csv"
    call_command("tmf_index", trial="NCT07063680", format="csv", out=out)
    rows = list(csv.DictReader(io.StringIO(out.read_text(encoding="utf-8-sig"))))
    column = next(name for name in rows[0] if "QC" in name)
    assert {row["Titre"]: row[column] for row in rows if row["Titre"] in ("Approuvé", "En attente")} == {
        "Approuvé": "approved", "En attente": "pending"}
    from openpyxl import load_workbook

    call_command("tmf_index", trial="NCT07063680", format="xlsx", out=tmp_path / "index.xlsx")
    header = [cell.value for cell in next(load_workbook(tmp_path / "index.xlsx").active.iter_rows())]
    assert any("QC" in (value or "") for value in header)


# --- Milestones -----------------------------------------------------------------------------------------------

def test_the_reference_models_milestones_are_loaded_with_the_taxonomy(db):
    assert TmfMilestone.objects.count() == 12
    activation = TmfMilestone.objects.get(number=3)
    assert activation.name == "Site Live / Ready / Open for Enrollment" and activation.phase == "Start Up"
    assert TmfArtifactMilestone.objects.filter(milestone=activation, level="site").count() == 50
    assert TmfArtifactMilestone.objects.get(artifact__number="01.01.02", level="trial").milestone.number == 1


def activation_milestone(world, *artifacts):
    return tmf_qc.milestone_save(
        actor=world.sponsor, trial=world.trial, reference=TmfMilestone.objects.get(number=3), level="site",
        site=world.site_a, planned_date=datetime.date(2026, 3, 1),
        artifacts=[TmfArtifact.objects.get(number=n) for n in artifacts] if artifacts else None)


def test_a_site_milestone_shows_the_required_documents_it_lacks(world, qc_member):
    default = activation_milestone(world)
    assert set(default.artifacts.all()) == set(tmf_qc.default_artifacts(default.reference, "site"))
    assert default.artifacts.exists() and default.name.endswith("DIJ")
    milestone = tmf_qc.milestone_save(
        actor=world.sponsor, trial=world.trial, reference=default.reference, level="site", site=world.site_a,
        milestone=default, artifacts=[TmfArtifact.objects.get(number=n) for n in (CV, "02.01.02")])
    protocol = make_version(trial=world.trial, number="1.0")  # filed automatically at trial level, QC-approved
    make_opinion(trial=world.trial, version=protocol)
    document = upload(world)
    status = milestones.milestones_for(world.sponsor, world.trial)[0]
    assert status.milestone == milestone
    assert [a.number for a in status.missing] == [CV]
    cv = next(r for r in status.requirements if r.artifact.number == CV)
    assert (cv.pending, cv.approved, cv.level) == (1, 0, "site")
    assert next(r for r in status.requirements if r.artifact.number == "02.01.02").level == "trial"  # found there
    tmf_qc.qc_approve(actor=qc_member, document=document)
    assert milestones.milestones_for(world.sponsor, world.trial)[0].missing == []


def test_a_milestone_refuses_bad_input_nothing_written(world):
    before = audit_count()
    reference = TmfMilestone.objects.get(number=3)
    with pytest.raises(ValidationError):
        tmf_qc.milestone_save(actor=world.sponsor, trial=world.trial, reference=reference, level="site")
    with pytest.raises(ValidationError):
        tmf_qc.milestone_save(actor=world.sponsor, trial=world.trial, reference=reference, level="site",
                              site=world.other_site)
    with pytest.raises(ValidationError):
        tmf_qc.milestone_save(actor=world.sponsor, trial=world.trial, reference=reference, level="country",
                              country="F1")
    with pytest.raises(PermissionDenied):
        tmf_qc.milestone_save(actor=world.qa, trial=world.trial, reference=reference, level="trial")
    activation_milestone(world)
    with pytest.raises(ValidationError, match="déjà défini"):
        activation_milestone(world)
    assert audit_count() == before + 1


def test_the_activation_gate_refuses_effectiveness_naming_what_is_missing(world, qc_member):
    activation_milestone(world, CV)
    version = make_version(trial=world.trial, number="1.0")
    make_opinion(trial=world.trial, version=version)
    earlier = timezone.now() - datetime.timedelta(hours=1)
    tmf_qc.settings_save(actor=world.sponsor, trial=world.trial, qc_automatic=False, timeliness_days=30,
                         activation_gate=True)
    with pytest.raises(ValidationError, match=f"DIJ.*{CV}"):
        services.activation_create(actor=world.sponsor, version=version, site=world.site_a, effective_from=earlier)
    assert not SiteActivation.objects.filter(version=version).exists()
    from consent import services as consent_services
    from consent.tests.factories import make_form

    form = make_form(trial=world.trial)
    with pytest.raises(ValidationError, match=CV):
        consent_services.form_make_effective(actor=world.sponsor, version=form, sites=[world.site_a],
                                             effective_from=earlier)
    assert not form.effectivities.exists()
    # LIL has no activation milestone: not gated.
    services.activation_create(actor=world.sponsor, version=version, site=world.site_b, effective_from=earlier)
    tmf_qc.qc_approve(actor=qc_member, document=upload(world))
    services.activation_create(actor=world.sponsor, version=version, site=world.site_a, effective_from=earlier)


def test_without_the_gate_a_missing_document_does_not_block(world):
    activation_milestone(world, CV)
    version = make_version(trial=world.trial, number="1.0")
    make_opinion(trial=world.trial, version=version)
    assert TmfSettings.objects.filter(trial=world.trial).count() == 0
    services.activation_create(actor=world.sponsor, version=version, site=world.site_a,
                               effective_from=timezone.now() - datetime.timedelta(hours=1))


def test_the_milestones_page_for_the_sponsor_and_an_inspector(world, client):
    client.force_login(world.sponsor)
    reference = TmfMilestone.objects.get(number=3)
    response = client.post(f"{BASE}/milestones/", {"reference": reference.pk, "level": "site",
                                                   "site": world.site_a.pk, "artifacts": f"{CV} 99.99.99"})
    assert response.status_code == 400 and "99.99.99" in response.content.decode()
    response = client.post(f"{BASE}/milestones/", {"reference": reference.pk, "level": "site",
                                                   "site": world.site_a.pk, "artifacts": CV})
    assert response.status_code == 302
    page = client.get(f"{BASE}/milestones/").content.decode()
    assert "MANQUANT" in page and CV in page
    client.force_login(world.inspector)
    assert client.get(f"{BASE}/milestones/").status_code == 200
    assert client.post(f"{BASE}/milestones/", {"reference": reference.pk, "level": "trial"}).status_code == 403


def test_the_milestones_page_keeps_a_flat_query_count(world, client, qc_member):
    activation_milestone(world, CV, "02.01.02")
    client.force_login(world.sponsor)
    upload(world)
    with CaptureQueriesContext(connection) as few:
        assert client.get(f"{BASE}/milestones/").status_code == 200
    for index in range(6):
        tmf_qc.qc_approve(actor=qc_member, document=upload(world, title=f"M{index}"))
    with CaptureQueriesContext(connection) as many:
        assert client.get(f"{BASE}/milestones/").status_code == 200
    assert len(many) == len(few)


def test_an_inspector_never_downloads_a_package_holding_documents_qc_had_not_approved(world, client, qc_member):
    from regulatory import tasks

    upload(world, title="En attente")
    job = tasks.start_export(actor=world.sponsor, trial=world.trial)
    job.refresh_from_db()
    url = f"{BASE}/exports/{job.pk}/download/"
    client.force_login(world.inspector)
    assert client.get(url).status_code == 403
    client.force_login(world.sponsor)
    assert client.get(url).status_code == 200


def test_a_trial_set_up_before_the_qc_role_gets_its_group_after_migrate(world):
    from django.contrib.auth.models import Group

    from regulatory.models import RoleGroup
    from regulatory.services.trials import ensure_trial_role_groups

    old = RoleGroup.objects.get(trial=world.trial, site=None, role=Role.TMF_QC)
    group = old.group
    old.delete()
    Group.objects.filter(pk=group.pk).delete()
    assert ensure_trial_role_groups() == 1
    member = make_member("late-qc", role=Role.TMF_QC, trial=world.trial)
    assert permissions.can_qc_tmf(member, world.trial)
    assert permissions.can_read_trial_wide(member, world.trial) and ensure_trial_role_groups() == 0


@pytest.mark.parametrize("persona", ["sponsor", "inspector"])
@pytest.mark.parametrize("path", ["/", "/zone/05/", f"/artifact/{CV}/", "/search/", "/search/?q=CV",
                                  "/completeness/", "/milestones/"])
def test_every_tmf_page_keeps_a_flat_query_count(world, client, qc_member, persona, path):
    """The same number of queries with 2 or 14 documents, pending, approved and rejected among them."""
    def grow(count):
        for index in range(count):
            document = upload(world, title=f"CV {index}", site=(world.site_a, world.site_b)[index % 2])
            if index % 3 == 1:
                tmf_qc.qc_approve(actor=qc_member, document=document)
            elif index % 3 == 2:
                tmf_qc.qc_reject(actor=qc_member, document=document, category="illegible", comment="Flou")

    activation_milestone(world, CV)
    client.force_login(getattr(world, persona))
    grow(2)
    with CaptureQueriesContext(connection) as few:
        assert client.get(BASE + path).status_code == 200
    grow(12)
    with CaptureQueriesContext(connection) as many:
        assert client.get(BASE + path).status_code == 200
    assert len(many) == len(few)
