"""Issue 7, the permission matrix: every URL (front end, downloads, Wagtail admin sample) × persona × object of site A
(DIJ) and of site B (LIL) answers as `tests/permission_matrix.py` says, every write is made or refused as it says,
no listing, search or export shows a row its reader may not see, and no front-end route escapes the table.

One test per persona builds the world once and walks every row, collecting every mismatch before failing."""

import csv
import datetime
import io
import re
from pathlib import Path
from types import SimpleNamespace

import pytest
from django.contrib.auth import SESSION_KEY, get_user_model
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone
from wagtail.documents.models import Document
from wagtail.models import Page, PageLogEntry, PageViewRestriction, Revision, WorkflowState

from consent import masters
from consent import services as consent_services
from consent.models import ConsentTask
from consent.pki import ensure_identities
from consent.tests.factories import make_form, signature_png
from regulatory import services, tasks
from regulatory.models import (
    AuditEntry,
    CorrespondenceAttachment,
    InspectorGrant,
    Role,
    TmfArtifact,
    TmfDocument,
    TmfExportJob,
    TmfMilestone,
    TrialCollection,
)
from regulatory.tests.factories import PASSWORD, delegate, make_member, make_nurse, make_opinion, make_version
from regulatory.tmf import qc as tmf_qc
from regulatory.tmf import uploads as tmf_filing
from tests.sharing import shared_fixture

from . import permission_matrix as matrix

T, TMF = matrix.T, matrix.TMF
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def _document(trial, audience, title, filename):
    scope = TrialCollection.objects.get(trial=trial, audience=audience)
    document = Document(title=title, collection=scope.collection)
    document.file.save(filename, ContentFile(PDF), save=False)
    document.save()
    return document


def _consent(world, participant, version, actor):
    return consent_services.consent_record_create(
        actor=actor, participant=participant, username=actor.get_username(), password=PASSWORD,
        expected_sequence=participant.consents.count(),
        data=consent_services.ConsentInput(version=version, signed_at=timezone.now() - datetime.timedelta(hours=1),
                                           outcome="consented", answers={0: "accept"},
                                           signature_png=signature_png(), signature_source="drawn"))


def build(world):
    """Every object the matrix's URLs name, at site A (DIJ), at site B (LIL), at trial level and in the other
    trial; returns the placeholder values of the URL templates."""
    trial, a, b = world.trial, world.site_a, world.site_b
    ensure_identities(sponsor_name=trial.sponsor_name, site_codes=["DIJ", "LIL", "BOR"])
    earlier = timezone.now() - datetime.timedelta(days=2)

    # Protocol: v1.0 in force at both sites with its full document; v1.1 approved, in force nowhere; a draft v2.0.
    protocol_doc = _document(trial, TrialCollection.Audience.TRIAL, "Protocole v1.0", "protocole-v1.pdf")
    v1 = make_version(trial=trial, number="1.0", document=protocol_doc, summary_of_changes="Version initiale")
    v1_1 = make_version(trial=trial, number="1.1", amendment=1, non_substantial_justification="Rédactionnel.")
    draft_protocol = make_version(trial=trial, number="2.0", amendment=2, publish=False)
    opinion = make_opinion(trial=trial, version=v1, date=datetime.date(2026, 1, 5))
    attachment_doc = _document(trial, TrialCollection.Audience.TRIAL_WIDE, "Avis du CPP", "avis-cpp.pdf")
    CorrespondenceAttachment.objects.create(item=opinion, document=attachment_doc, label="Avis signé")
    activations = {site.code: services.activation_create(actor=world.sponsor, version=v1, site=site,
                                                         effective_from=earlier) for site in (a, b)}

    # Consent forms: four kinds in force at both sites, a LIL-only surrogate form, a draft, one approved but pending.
    forms = {}
    for kind in ("patient", "surrogate", "emergency", "continuation"):
        forms[kind] = make_form(trial=trial, kind=kind)
        consent_services.form_make_effective(actor=world.sponsor, version=forms[kind], sites=[a, b],
                                             effective_from=earlier - datetime.timedelta(days=1))
    lil_only = make_form(trial=trial, kind="surrogate", number="1.1", sites=[b], title="Formulaire proche (site B)")
    consent_services.form_make_effective(actor=world.sponsor, version=lil_only, sites=[b], effective_from=earlier)
    draft_form = make_form(trial=trial, kind="patient", number="2.0", publish=False, approved=False)
    pending_form = make_form(trial=trial, kind="emergency", number="1.1")  # approved, in force nowhere yet
    inspector_2 = make_member("inspector-2", role=Role.INSPECTOR, trial=trial)

    master = masters.signed_master(versions=[forms["patient"]], site=a, trial=trial, actor=world.sponsor)

    # Participants with a signed consent at each site, and one still in screening.
    participants, records, fresh, spare, inform_tasks = {}, {}, {}, {}, {}
    for site, staff in ((a, world.coordinator_a), (b, world.coordinator_b)):
        participant = consent_services.participant_create(actor=staff, site=site)
        records[site.code] = _consent(world, participant, forms["patient"], staff)
        participants[site.code] = participant
        fresh[site.code] = consent_services.participant_create(actor=staff, site=site)
        spare[site.code] = consent_services.participant_create(actor=staff, site=site)
        inform_tasks[site.code] = ConsentTask.objects.create(  # a non-substantive change to tell of
            participant=participant, kind=ConsentTask.Kind.INFORM, form_kind="patient", target_version=forms["patient"],
            opens_at=timezone.now() - datetime.timedelta(hours=1), due_at=timezone.now() + datetime.timedelta(days=30))

    # DIJ staff not delegated "obtain informed consent" nor "record deaths" (the nurse_a column).
    nurse = make_nurse(a)
    # The delegation log: an entry awaiting its staff member's acknowledgement at each site, and a signed print.
    pending = {site.code: delegate(site=site, staff=staff, tasks=["withdrawal"], acknowledged=False)
               for site, staff in ((a, world.coordinator_a), (b, world.coordinator_b))}
    for site in (a, b):
        consent_services.print_log(site=site)

    # The TMF: a document filed by hand at each site, and a finished export.
    tmf_uploads = {}
    for site in (a, b):
        tmf_uploads[site.code] = tmf_filing.file_upload(
            actor=world.sponsor, trial=trial, artifact=TmfArtifact.objects.get(number="05.02.04"), level="site",
            site=site, country="", title=f"CV investigateur registre {site.code}",
            document_date=datetime.date(2026, 2, 1),
            version="1", status=TmfDocument.Status.CURRENT,
            file=SimpleUploadedFile(f"delegation-{site.code.lower()}.pdf", PDF, content_type="application/pdf"))
    # QC (issue 19): the site documents QC-approved by the trial's TMF QC member (before the export: a package
    # holding unapproved documents is the sponsor's side's only); one trial-level document pending, filed after it.
    tmf_qc_member = make_member("tmf-qc", role=Role.TMF_QC, trial=trial)
    for document in tmf_uploads.values():
        tmf_qc.qc_approve(actor=tmf_qc_member, document=document)
    job = tasks.start_export(actor=world.sponsor, trial=trial)
    job.refresh_from_db()
    pending_tmf_doc = tmf_filing.file_upload(
        actor=world.sponsor, trial=trial, artifact=TmfArtifact.objects.get(number="01.01.02"), level="trial",
        site=None, country="", title="Plan de gestion en attente de QC", document_date=datetime.date(2026, 2, 1),
        version="1", status=TmfDocument.Status.CURRENT,
        file=SimpleUploadedFile("plan.pdf", PDF, content_type="application/pdf"))
    assert job.state == TmfExportJob.State.DONE, job.error
    from consent import tasks as consent_tasks

    fixity_run = consent_tasks.start_fixity_check(actor=world.sponsor, trial=trial)
    fixity_run.refresh_from_db()
    assert fixity_run.state == "done" and fixity_run.report, fixity_run.error

    # The other trial: its own protocol, TMF and audit entries.
    other_v1 = make_version(trial=world.other_trial, number="1.0")

    # Every private file is on disk (so a 404 under MEDIA_URL means "not served", not "not there").
    from django.conf import settings

    stored = [records["DIJ"].pdf, records["LIL"].pdf, tmf_uploads["DIJ"].file, tmf_uploads["LIL"].file, job.file,
              master.file, protocol_doc.file, attachment_doc.file]
    assert all((Path(settings.MEDIA_ROOT) / f.name).is_file() for f in stored)

    def site_values(site):
        code = site.code
        return {
            "site": code.lower(), "site_pk": site.pk, "participant": participants[code].code,
            "fresh": fresh[code].code, "spare": spare[code].code, "activation": activations[code].pk,
            "inform_task": inform_tasks[code].pk,
            "form_period": forms["patient"].effectivities.get(site=site).pk, "token": records[code].verification_token,
            "form": (forms["patient"] if code == "DIJ" else lil_only).pk,
            "tmf_doc": tmf_uploads[code].pk, "consent_pdf_path": records[code].pdf.name,
            "tmf_upload_path": tmf_uploads[code].file.name,
            "staff_pk": (world.coordinator_a if code == "DIJ" else world.coordinator_b).pk,
            "fhir_consent": f"NCT07063680-{participants[code].code}-1",
            "fhir_subject": f"NCT07063680-{participants[code].code}", "fhir_org": f"NCT07063680-{code}",
            "delegation_entry": pending[code].pk,
        }

    submission = opinion.get_parent()
    return SimpleNamespace(
        A=site_values(a), B=site_values(b),
        common={
            "trial_pk": trial.pk, "protocol_url": v1.get_parent().url, "protocol_version_url": v1.url,
            "draft_protocol_url": draft_protocol.url, "correspondence_url": submission.get_parent().url,
            "submission_url": submission.url, "item_url": opinion.url, "protocol_doc_url": protocol_doc.url,
            "attachment_url": attachment_doc.url, "protocol_doc_path": protocol_doc.file.name,
            "attachment_path": attachment_doc.file.name, "attachment_pk": attachment_doc.pk,
            "master_path": master.file.name,
            "cf_index_url": forms["patient"].get_parent().url, "cf_version_url": forms["patient"].url,
            "cf_version": forms["patient"].pk, "cf_draft_url": draft_form.url, "cf_draft_pk": draft_form.pk,
            "lil_only_form": lil_only.pk, "trial_tmf_doc": TmfDocument.objects.get(
                source_type="regulatory.protocolversionpage", source_id=str(v1.pk), artifact__number="02.01.02").pk,
            "job": job.pk, "export_path": job.file.name, "fixity": fixity_run.pk, "grant": world.inspector_grant.pk,
            "other_trial_url": world.other_trial.url, "other_site": world.other_site.code.lower(),
            "other_protocol_url": other_v1.url,
            "lil_participant": participants["LIL"].code, "cf_pending_url": pending_form.url,
            "protocol_version_pk": v1.pk, "item_pk": opinion.pk, "cf_index_pk": forms["patient"].get_parent().pk,
            "cf_revision": forms["patient"].revisions.order_by("pk").first().pk,
            "pending_tmf_doc": pending_tmf_doc.pk,
        },
        forms=forms, v1_1=v1_1, participants=participants, inspector_2=inspector_2, tmf_qc=tmf_qc_member, nurse=nurse,
    )


# --- Personas --------------------------------------------------------------------------------------------------

def login(world, client, persona: str, objects=None):
    """The test client as `persona` (a column of the matrix); the inspector's window is set as the persona says."""
    grant = world.inspector_grant
    if persona == "insp_dij":
        grant.sites.set([world.site_a])
    elif persona == "insp_after":
        InspectorGrant.objects.filter(pk=grant.pk).update(ends_at=timezone.now())
    users = {"coord_a": world.coordinator_a, "nurse_a": objects.nurse if objects else None,
             "inv_a": world.investigator_a, "coord_b": world.coordinator_b, "sponsor": world.sponsor, "qa": world.qa,
             "insp": world.inspector, "insp_dij": world.inspector, "insp_after": world.inspector,
             "other_sp": world.other_sponsor, "admin": world.admin}
    if persona != "anon":
        client.force_login(users[persona])
    return client


# --- Reading the table -----------------------------------------------------------------------------------------

def placeholders(template: str) -> set[str]:
    return set(re.findall(r"{(\w+)}", template))


def cells(template: str, statuses: tuple) -> list[tuple[str, dict]]:
    """(object label, expected answer per persona) for each object the row is requested with: "A" and "B" for a
    row naming a site object, "-" otherwise."""
    per_site = bool(placeholders(template) & matrix.SITE_KEYS)
    return [(label, {persona: (status[index] if isinstance(status, tuple) else status)
                     for persona, status in zip(matrix.COLUMNS, statuses, strict=True)})
            for index, label in enumerate(("A", "B") if per_site else ("-",))]


def url_of(template: str, objects, label: str) -> str:
    values = dict(objects.common)
    if label in ("A", "B"):
        values.update(getattr(objects, label))
    return template.format(**values)


def text_of(response) -> str:
    # Never response.close(): it sends request_finished, whose close_old_connections closes the test's PostgreSQL
    # connection in the middle of its transaction (a no-op on SQLite's in-memory database, hence unnoticed there).
    data = b"".join(response.streaming_content) if response.streaming else response.content
    return data.decode("utf-8-sig", "replace")


def check_table(table) -> None:
    seen = set()
    for template, statuses in table:
        assert template not in seen, f"row listed twice: {template}"
        seen.add(template)
        assert len(statuses) == len(matrix.COLUMNS), template
        per_site = bool(placeholders(template) & matrix.SITE_KEYS)
        for status in statuses:
            assert isinstance(status, int) or status == matrix.W or (per_site and len(status) == 2), \
                f"{template}: a pair of statuses needs a row naming a site object"


def test_the_tables_are_well_formed():
    check_table(matrix.MATRIX)
    check_table(matrix.WRITES)
    seen = set()
    for template, statuses in matrix.API_MATRIX:
        assert template not in seen and len(statuses) == len(matrix.API_COLUMNS), template
        seen.add(template)
    assert set(PAYLOADS) == {template for template, _ in matrix.WRITES}


# --- Reads -----------------------------------------------------------------------------------------------------

LOGIN_PAGES = ("/accounts/login/", "/admin/login/", "/_util/login/")
NOT_TO_LOGIN = {"/i18n/setlang/"}  # sends whoever asks back where they came from ("/" here)


def check_reads(client, persona: str, objects) -> list[str]:
    """Every mismatching cell of `matrix.MATRIX`, as a line naming persona, object, URL, expected and actual."""
    mismatches = []
    for template, statuses in matrix.MATRIX:
        for label, expected in cells(template, statuses):
            url = url_of(template, objects, label)
            response = client.get(url)
            text_of(response)
            want, got = expected[persona], response.status_code
            where = f"{persona:<10} {label} GET  {template}  [{url}]"
            if got != want:
                mismatches.append(f"{where}  expected {want}, got {got}")
            elif persona == "anon" and got == 302 and template not in NOT_TO_LOGIN \
                    and not response["Location"].startswith(LOGIN_PAGES):
                mismatches.append(f"{where}  302 to {response['Location']}, not to a login page")
    return mismatches


# --- Writes ----------------------------------------------------------------------------------------------------

def _local(moment) -> str:
    return timezone.localtime(moment).strftime("%Y-%m-%dT%H:%M")


def _drawn_signature() -> str:
    import base64

    return "data:image/png;base64," + base64.b64encode(signature_png()).decode()


def _site_form(world, label) -> dict:
    site = world.site_a if label == "A" else world.site_b
    data = {"trial": site.trial_id, "code": site.code, "name": site.name, "city": f"{site.city} (modifiée)",
            "country": site.country, "principal_investigator": site.principal_investigator, "status": site.status,
            "activation_date": site.activation_date.isoformat()}
    return data | ({"is_demo": "on"} if site.is_demo else {})


# Valid data for each row of `matrix.WRITES`, so that whoever may write does: (world, objects, label) → data.
PAYLOADS = {
    T + "/sites/{site}/acknowledge/{activation}/": lambda world, objects, label: {},
    TMF + "/documents/{pending_tmf_doc}/qc/": lambda world, objects, label: {"decision": "approve"},
    TMF + "/qc/settings/": lambda world, objects, label: {"timeliness_days": "45", "qc_automatic": "on"},
    TMF + "/milestones/": lambda world, objects, label: {
        "reference": TmfMilestone.objects.get(number=3).pk, "level": "site", "site": world.site_a.pk,
        "planned_date": "2026-03-01"},
    T + "/acknowledgements/{activation}/remind/": lambda world, objects, label: {},
    T + "/sites/{site}/participants/": lambda world, objects, label: {"confirm": "yes"},
    T + "/sites/{site}/acknowledge-form/{form_period}/": lambda world, objects, label: {},
    T + "/acknowledgements/forms/{form_period}/remind/": lambda world, objects, label: {},
    T + "/sites/{site}/participants/{spare}/not-included/": lambda world, objects, label: {
        "status": "registered_in_error", "reason": "Inscrit deux fois par erreur"},
    T + "/sites/{site}/participants/{fresh}/consent/{cf_version}/": lambda world, objects, label: {
        "version": objects.forms["patient"].pk, "expected_sequence": 0,
        "signed_at": _local(timezone.now() - datetime.timedelta(minutes=5)), "outcome": "consented",
        "statement_0": "accept", "signature_drawn": _drawn_signature(), "password": PASSWORD},
    T + "/sites/{site}/participants/{participant}/withdraw/": lambda world, objects, label: {
        "scope": "follow_up", "reason": "Retrait exprimé oralement"},
    T + "/sites/{site}/participants/{participant}/tasks/{inform_task}/informed/": lambda world, objects, label: {
        "note": "Informé par téléphone de la nouvelle version"},
    T + "/sites/{site}/participants/{fresh}/death/": lambda world, objects, label: {
        "died_at": _local(timezone.now())},  # registered as the matrix was built: death cannot precede it
    T + "/activations/new/": lambda world, objects, label: {
        "version": objects.v1_1.pk, "sites": [world.site_a.pk, world.site_b.pk],
        "effective_from": _local(timezone.now()), "justification": "Modification rédactionnelle."},
    "{cf_pending_url}effective/": lambda world, objects, label: {
        "sites": [world.site_a.pk], "effective_from": _local(timezone.now()), "change_kind": "substantive"},
    "{cf_pending_url}withdraw/": lambda world, objects, label: {"reason": "Erreur de traduction"},
    TMF + "/upload/": lambda world, objects, label: {
        "artifact": TmfArtifact.objects.get(number="01.01.01").pk, "level": "trial", "site": "", "country": "",
        "title": "Plan du TMF", "document_date": "2026-02-01", "version": "1", "status": "current",
        "file": SimpleUploadedFile("plan.pdf", PDF, content_type="application/pdf")},
    TMF + "/inspections/": lambda world, objects, label: {
        "inspector": objects.inspector_2.pk, "starts_at": _local(timezone.now()),
        "ends_at": _local(timezone.now() + datetime.timedelta(days=3)), "purpose": "Inspection ANSM"},
    TMF + "/inspections/{grant}/close/": lambda world, objects, label: {"reason": "Inspection terminée"},
    TMF + "/completeness/settings/": lambda world, objects, label: {
        "expectations-form": "1", "expected": ["02.01.02:trial", "05.02.04:site"]},
    TMF + "/exports/": lambda world, objects, label: {},
    TMF + "/exports/{job}/retry/": lambda world, objects, label: {},
    TMF + "/fixity/": lambda world, objects, label: {},
    T + "/sites/{site}/delegation/": lambda world, objects, label: {
        "staff": (world.coordinator_a if label == "A" else world.coordinator_b).pk, "tasks": ["death"],
        "start_date": "2026-01-01", "end_date": "", "password": PASSWORD},
    T + "/sites/{site}/delegation/{delegation_entry}/acknowledge/": lambda world, objects, label: {
        "password": PASSWORD},
    "/verify/": lambda world, objects, label: {
        "pdf": SimpleUploadedFile("copie.pdf", PDF, content_type="application/pdf")},
    "/admin/investigational_sites/edit/{site_pk}/": lambda world, objects, label: _site_form(world, label),
    **{template: lambda world, objects, label: {} for template, _ in matrix.WRITES if template.startswith(
        ("/admin/pages/", "/admin/bulk/")) and "/copy/" not in template and "/privacy/" not in template},
    **{template: (lambda world, objects, label, pk=pk: {
        "new_title": "Copie", "new_slug": "copie-publiee", "publish_copies": "on",
        "new_parent_page": Page.objects.get(pk=objects.common[pk]).get_parent().pk})
       for template, pk in (("/admin/pages/{cf_version}/copy/", "cf_version"),
                            ("/admin/pages/{protocol_version_pk}/copy/", "protocol_version_pk"),
                            ("/admin/pages/{trial_pk}/copy/", "trial_pk"),
                            ("/admin/pages/{item_pk}/copy/", "item_pk"))},
    "/admin/pages/{cf_version}/privacy/": lambda world, objects, label: {"restriction_type": "login"},
}


def written() -> tuple:
    """Audit entries but the inspector middleware's own (what an inspector opened, or was refused): every write of
    the rows of `matrix.WRITES` is audited; and, for Wagtail's page actions, the pages (their place, state and
    lock), their revisions, log entries, view restrictions and running workflows. Compared before and after."""
    return (AuditEntry.objects.exclude(action__in=["inspection.view", "inspection.download",
                                                   "inspection.write_refused"]).count(),
            tuple(Page.objects.order_by("pk").values_list("pk", "path", "live", "locked", "has_unpublished_changes",
                                                          "latest_revision_id")),
            Revision.objects.count(), PageLogEntry.objects.count(), PageViewRestriction.objects.count(),
            WorkflowState.objects.filter(status="in_progress").count())


def check_writes(client, persona: str, world, objects) -> list[str]:
    mismatches = []
    account = get_user_model().objects.filter(pk=client.session.get(SESSION_KEY)).first()
    for template, statuses in matrix.WRITES:
        for label, expected in cells(template, statuses):
            url = url_of(template, objects, label)
            before = written()
            data = PAYLOADS[template](world, objects, label)
            if "password" in data:  # a signature: its first component is the poster's own user name
                data["username"] = account.get_username() if account else ""
            response = client.post(url, data)
            text_of(response)
            want, got, wrote = expected[persona], response.status_code, written() != before
            where = f"{persona:<10} {label} POST {template}  [{url}]"
            if want == matrix.W and (got != 302 or written()[0] <= before[0]):
                mismatches.append(f"{where}  expected the write (302 and an audit entry), got {got}"
                                  f"{'' if wrote else ', nothing written'}")
            elif want != matrix.W and (got != want or wrote):
                mismatches.append(f"{where}  expected {want} and nothing written, got {got}"
                                  f"{', and something was written' if wrote else ''}")
    return mismatches


# --- Zero leaks: what the pages a persona may open list ------------------------------------------------------------

# What belongs to site B (LIL) only: its participants, its filed document, its staff, role groups and name, the
# audit changes naming it as the site, links to its pages.
SITE_B_ONLY = [r"LIL-000\d", r"CV investigateur registre LIL", r"coordinator-b", r"· LIL ·", r"Hôpital fictif de Lille",
               r'"site": \[null, "LIL"\]', r'""site"": \[null, ""LIL""\]', r"/sites/lil/"]
SITE_A_ONLY = [r"DIJ-000\d", r"CV investigateur registre DIJ", r"coordinator-a", r"investigator-a", r"nurse-a",
               r"· DIJ ·", r"CHU Dijon Bourgogne", r"/sites/dij/"]
# What belongs to NCT07063680 at all: the other trial's sponsor sees none of it.
TRIAL_ONLY = [r"NCT07063680", r"nct07063680", r"Argipressine", r"\bDIJ\b", r"\bLIL\b", r"Dijon", r"Lille",
              r"Avis du CPP", r"CV investigateur registre", r"Formulaire patient", r"Formulaire proche",
              r"coordinator-[ab]", r"investigator-a", r"favourable_opinion"]


def csv_rows(response) -> list[dict]:
    return list(csv.DictReader(io.StringIO(text_of(response))))


def shown(client, urls, forbidden) -> list[str]:
    """Each URL answers 200 and shows none of the `forbidden` patterns (regular expressions)."""
    found = []
    for url in urls:
        response = client.get(url)
        body = text_of(response)
        if response.status_code != 200:
            found.append(f"{url}: status {response.status_code}")
        for pattern in forbidden:
            match = re.search(pattern, body)
            if match:
                context = re.sub(r"\s+", " ", body[max(0, match.start() - 80):match.end() + 40])
                found.append(f"{url}: shows {pattern!r} … {context} …")
    return found


def site_staff_leaks(world, client, objects, own: str, foreign) -> list[str]:
    site = f"{T}/sites/{own}"
    found = shown(client, ["/", f"{T}/", f"{site}/", f"{site}/participants/", f"{site}/tasks/",
                           f"{site}/consent-forms/", objects.common["protocol_url"],
                           objects.common["protocol_version_url"]], foreign)
    listed = {p.site.code.lower() for p in client.get(f"{site}/participants/").context["participants"]}
    if listed != {own}:
        found.append(f"{site}/participants/ lists participants of {sorted(listed)}")
    return found


def other_sponsor_leaks(world, client, objects) -> list[str]:
    home, trial, dij = world.trial.get_parent().pk, world.trial, world.site_a
    found = shown(client, [
        "/", "/tmf/NCT01234567/", "/tmf/NCT01234567/search/", "/tmf/NCT01234567/search/?q=registre",
        "/tmf/NCT01234567/search/?q=CPP", "/tmf/NCT01234567/artifact/02.01.02/", "/tmf/NCT01234567/completeness/",
        "/tmf/NCT01234567/completeness/?format=csv", "/tmf/NCT01234567/exports/", "/audit/", "/audit/?format=csv",
        f"/audit/?trial={trial.pk}&format=csv",
        f"/audit/?object_type=regulatory.investigationalsite&object_id={dij.pk}&format=csv",
        f"/audit/object/regulatory.investigationalsite/{dij.pk}/?format=csv",
        f"/audit/object/regulatory.trialpage/{trial.pk}/", f"/audit/user/{world.coordinator_a.pk}/?format=csv",
        "/admin/", "/admin/investigational_sites/results/?q=Dijon", "/admin/documents/", "/admin/documents/chooser/",
        "/admin/choose-page/", f"/admin/choose-page/{home}/", "/admin/choose-page/search/?q=Argipressine",
        "/admin/choose-page/search/?q=Formulaire", "/admin/choose-page/search/?q=favourable",
        f"/admin/api/main/pages/?child_of={home}", "/admin/api/main/pages/?search=Formulaire",
        "/admin/consent/compare/", "/admin/reports/site-history/", "/admin/reports/aging-pages/",
        "/admin/reports/locked/",
    ], TRIAL_ONLY)
    # Asked for by its id, the trial is named at the top of the chooser (Wagtail names any parent), but none of the
    # pages under it is listed.
    found += shown(client, [f"/admin/choose-page/{trial.pk}/"],
                   [r"Protocol", r"Formulaires de consentement", r"Correspondance", r"/nct07063680/\w"])
    for url in ("/audit/?format=csv", f"/audit/?trial={trial.pk}&format=csv"):
        trials = {row["Essai"] for row in csv_rows(client.get(url))}
        if not trials <= {"NCT01234567"}:
            found.append(f"{url}: rows of {sorted(trials)}")
    return found


def partial_inspector_leaks(world, client, objects) -> list[str]:
    """An inspector whose window covers DIJ only: no LIL row in the TMF, its completeness or the audit trail, while
    DIJ's rows stay readable."""
    a, b, lil_participant = world.site_a, world.site_b, objects.participants["LIL"]
    common = objects.common
    found = shown(client, [
        "/", f"{T}/", f"{T}/sites/dij/", f"{T}/sites/dij/participants/", f"{T}/dashboard/", f"{T}/acknowledgements/",
        common["protocol_url"], common["cf_index_url"], common["cf_version_url"], f"{TMF}/", f"{TMF}/search/",
        f"{TMF}/search/?q=registre", f"{TMF}/search/?site=LIL", f"{TMF}/artifact/05.02.04/",
        f"{TMF}/artifact/02.02.03/", f"{TMF}/zone/05/", f"{TMF}/completeness/", f"{TMF}/completeness/?format=csv",
        f"{TMF}/exports/", "/audit/", "/audit/?format=csv",
        f"/audit/?object_type=regulatory.investigationalsite&object_id={b.pk}&format=csv",
        f"/audit/object/regulatory.investigationalsite/{b.pk}/?format=csv",
        f"/audit/object/consent.participant/{lil_participant.pk}/?format=csv",
        f"/audit/user/{world.coordinator_b.pk}/?format=csv",
    ], SITE_B_ONLY)
    for url in (f"{TMF}/search/", f"{TMF}/artifact/05.02.04/", f"{TMF}/artifact/02.02.03/"):
        sites = {d.site_id for d in client.get(url).context["page"].paginator.object_list}
        if not sites <= {None, a.pk}:
            found.append(f"{url}: documents of sites {sites - {None, a.pk}}")
    places = {row["Lieu"] for row in csv_rows(client.get(f"{TMF}/completeness/?format=csv"))}
    if "DIJ" not in places or "LIL" in places:
        found.append(f"{TMF}/completeness/?format=csv: places {sorted(places)}")
    for url in (f"/audit/object/regulatory.investigationalsite/{b.pk}/?format=csv",
                f"/audit/object/consent.participant/{lil_participant.pk}/?format=csv",
                f"/audit/user/{world.coordinator_b.pk}/?format=csv"):
        if csv_rows(client.get(url)):
            found.append(f"{url}: rows about site B")
    for url in (f"/audit/object/regulatory.investigationalsite/{a.pk}/?format=csv",
                f"/audit/object/consent.participant/{objects.participants['DIJ'].pk}/?format=csv"):
        if not csv_rows(client.get(url)):
            found.append(f"{url}: no row, though the window covers DIJ")
    return found


LEAK_CHECKS = {
    "coord_a": lambda world, client, objects: site_staff_leaks(world, client, objects, "dij", SITE_B_ONLY),
    "nurse_a": lambda world, client, objects: site_staff_leaks(world, client, objects, "dij", SITE_B_ONLY),
    "inv_a": lambda world, client, objects: site_staff_leaks(world, client, objects, "dij", SITE_B_ONLY),
    "coord_b": lambda world, client, objects: site_staff_leaks(world, client, objects, "lil", SITE_A_ONLY),
    "other_sp": other_sponsor_leaks,
    "insp_dij": partial_inspector_leaks,
}


@shared_fixture
def objects(world):
    """The matrix's objects, made once for the module's personas (each persona's writes are rolled back)."""
    return build(world)


# --- The matrix, one persona at a time ------------------------------------------------------------------------

@pytest.mark.parametrize("persona", matrix.COLUMNS)
def test_the_permission_matrix(world, objects, client, persona):
    """The persona's zero-leak checks first (an inspector's own probes of the other site's URLs, refused but
    audited with their path, would otherwise show in the audit trail), then reads, then writes (they change the
    world, so they come last)."""
    client = login(world, client, persona, objects)
    problems = [f"{persona:<10} LEAK {line}" for line in LEAK_CHECKS.get(persona, lambda *args: [])(
        world, client, objects)]
    problems += check_reads(client, persona, objects)
    problems += check_writes(client, persona, world, objects)
    assert not problems, (f"{len(problems)} difference(s) with tests/permission_matrix.py:\n" + "\n".join(problems))


# --- The TMF QC role (issue 19) ------------------------------------------------------------------------------------

@pytest.mark.parametrize("persona", matrix.QC_COLUMNS)
def test_the_tmf_qc_matrix(world, objects, client, persona):
    """QC is decided by the trial's TMF QC role only (`permissions.tmf_qc_refusal`), never by the sponsor who filed
    the document nor by an administrator by virtue of being one; the QC member reads the TMF as the sponsor's side."""
    users = {"sponsor": world.sponsor, "tmf_qc": objects.tmf_qc, "admin": world.admin}
    client.force_login(users[persona])
    problems = []
    for template, statuses in matrix.QC_MATRIX:
        expected = statuses[matrix.QC_COLUMNS.index(persona)]
        url = url_of(template, objects, "-")
        got = client.get(url).status_code
        if got != expected:
            problems.append(f"{persona} GET {url}: expected {expected}, got {got}")
    for template, statuses in matrix.QC_WRITES:
        expected = statuses[matrix.QC_COLUMNS.index(persona)]
        url = url_of(template, objects, "-")
        before = written()
        got = client.post(url, PAYLOADS[template](world, objects, "-")).status_code
        wrote = written() != before
        if expected == matrix.W and (got != 302 or written()[0] <= before[0]):
            problems.append(f"{persona} POST {url}: expected the write, got {got}")
        elif expected != matrix.W and (got != expected or wrote):
            problems.append(f"{persona} POST {url}: expected {expected} and nothing written, got {got}"
                            f"{', and something was written' if wrote else ''}")
    assert not problems, "\n".join(problems)


# --- Every front-end URL is in the matrix ----------------------------------------------------------------------

def _join(route1: str, route2: str) -> str:
    """As Django joins an include's route and its patterns' (`URLResolver._join_route`)."""
    return route2 if not route1 else route1 + route2.removeprefix("^")


def routes(patterns, prefix: str = ""):
    """(route, name) of every URL pattern Django routes, prefixed by its includes."""
    for pattern in patterns:
        route = _join(prefix, str(pattern.pattern))
        if hasattr(pattern, "url_patterns"):
            yield from routes(pattern.url_patterns, route)
        else:
            yield route, pattern.name


def page_route(path: str):
    """The page type a front-end path lands on (live or not) and, for a routable page, its sub-route's name."""
    from wagtail.models import Page, Site

    root = Site.objects.get(is_default_site=True).root_page
    parts = [part for part in path.split("/") if part]
    for cut in range(len(parts), -1, -1):
        page = Page.objects.filter(url_path=root.url_path + "".join(f"{part}/" for part in parts[:cut])).first()
        if page is not None:
            page, rest = page.specific, "".join(f"{part}/" for part in parts[cut:])
            if hasattr(page, "get_resolver"):
                return type(page), page.get_resolver().resolve("/" + rest).url_name
            return type(page), None if rest else "(page)"
    return None, None


def test_every_front_end_url_pattern_and_page_route_is_in_the_matrix(world):
    """A new front-end route (a Django URL pattern outside /admin/, a page type, a routable page's sub-route) fails
    here until it has its row in tests/permission_matrix.py."""
    from django.apps import apps
    from django.urls import Resolver404, get_resolver, resolve
    from wagtail.contrib.routable_page.models import RoutablePageMixin
    from wagtail.models import Page

    objects = build(world)
    covered_routes, covered_pages = set(), set()
    for template, statuses in [*matrix.MATRIX, *matrix.WRITES]:
        for label, _ in cells(template, statuses):
            path = url_of(template, objects, label).split("?")[0]
            try:
                match = resolve(path)
            except Resolver404:
                continue
            covered_routes.add(match.route)
            if match.url_name == "wagtail_serve":
                covered_pages.add(page_route(path))

    front_end = {route for route, _ in routes(get_resolver().url_patterns) if not route.startswith("admin/")}
    missing = sorted(front_end - covered_routes)
    project_pages = [model for model in apps.get_models() if issubclass(model, Page) and model is not Page
                     and model._meta.app_label in ("cms", "regulatory", "consent")]
    missing += sorted(f"page {model.__name__}" for model in project_pages
                      if not any(model is page for page, _ in covered_pages))
    for model in project_pages:
        if issubclass(model, RoutablePageMixin):
            # Routes of one pattern (Wagtail's default `index_route` and a page's own "") answer as the first.
            by_pattern = {}
            for pattern in model.get_subpage_urls():
                by_pattern.setdefault(str(pattern.pattern), set()).add(pattern.name)
            seen = {sub for page, sub in covered_pages if page is model}
            missing += sorted(f"{model.__name__} sub-route {'/'.join(sorted(names))} ({route!r})"
                              for route, names in by_pattern.items() if not names & seen)
    assert not missing, "URLs with no row in tests/permission_matrix.py:\n" + "\n".join(missing)


# --- The FHIR API, one bearer token per column ---------------------------------------------------------------------

def api_tokens(world) -> dict[str, str | None]:
    """The raw token of each column of `matrix.API_MATRIX`."""
    import secrets

    from regulatory.models import ApiToken
    from regulatory.models.api_tokens import token_digest
    from regulatory.services.api_tokens import api_token_issue, api_token_revoke

    def issue(user, site=None, trial=None):
        return api_token_issue(actor=None, user=user, trial=trial or world.trial, site=site, days=30)[1]

    expired, revoked = issue(world.sponsor), issue(world.sponsor)
    ApiToken.objects.filter(digest=token_digest(expired)).update(
        created_at=timezone.now() - datetime.timedelta(days=31), expires_at=timezone.now() - datetime.timedelta(days=1))
    api_token_revoke(actor=world.sponsor, token=ApiToken.objects.get(digest=token_digest(revoked)), reason="Fin")
    return {
        "none": None, "garbage": "tdk_" + secrets.token_urlsafe(32), "expired": expired, "revoked": revoked,
        "trial": issue(world.sponsor), "dij": issue(world.coordinator_a, world.site_a),
        "lil": issue(world.coordinator_b, world.site_b), "sp_lil": issue(world.sponsor, world.site_b),
        "staff_trial": issue(world.coordinator_a), "other": issue(world.other_sponsor, trial=world.other_trial),
        "admin": issue(world.admin),
    }


def test_the_api_token_matrix(world, objects, client, settings):
    """Every row of `matrix.API_MATRIX` × every token; every answer application/fhir+json; searches list only the
    sites of the token's column; every call with a known token is audited with it."""
    import json

    from django.core.cache import cache

    settings.FHIR_API_THROTTLE = {"WINDOW_SECONDS": 3600, "MAX_PER_TOKEN": 10_000, "MAX_FAILURES_PER_ADDRESS": 10_000}
    cache.clear()
    tokens, problems = api_tokens(world), []
    participant = objects.participants["DIJ"]
    participant.__class__.objects.create(site=world.other_site, number=1, code="BOR-0001",
                                         created_by=world.other_sponsor)
    for template, statuses in matrix.API_MATRIX:
        per_site = bool(placeholders(template) & matrix.SITE_KEYS)
        for index, label in enumerate(("A", "B") if per_site else ("-",)):
            url = url_of(template, objects, label)
            for column, status in zip(matrix.API_COLUMNS, statuses, strict=True):
                want = status[index] if isinstance(status, tuple) else status
                raw = tokens[column]
                response = client.get(url, **({"HTTP_AUTHORIZATION": f"Bearer {raw}"} if raw else {}))
                if response.status_code != want:
                    problems.append(f"{column:<11} {label} GET {template} [{url}] expected {want}, "
                                    f"got {response.status_code}")
                if not response["Content-Type"].startswith("application/fhir+json"):
                    problems.append(f"{column:<11} {label} GET {url}: {response['Content-Type']}")
    for column, allowed in matrix.API_SITES.items():
        for resource in ("Consent", "ResearchSubject", "Organization"):
            body = json.loads(client.get(f"/fhir/R5/{resource}?_count=100",
                                         HTTP_AUTHORIZATION=f"Bearer {tokens[column]}").content)
            listed = {entry["resource"]["id"].split("-")[1] for entry in body.get("entry", [])}
            if not listed <= allowed or (resource == "Organization" and listed != allowed):
                problems.append(f"{column:<11} LEAK /fhir/R5/{resource} lists sites {sorted(listed)}")
    audited = AuditEntry.objects.filter(action__in=["api.read", "api.refused"], object_type="regulatory.apitoken")
    if audited.values("object_id").distinct().count() != len([t for t in tokens.values() if t]) - 1:  # not garbage
        problems.append("not every known token's calls are audited with it")
    assert not problems, f"{len(problems)} difference(s) with the API matrix:\n" + "\n".join(problems)
