"""Approvals in the review workflow are electronic signatures (21 CFR 11.50, 11.200) given by someone other than the
version's author (four eyes), through the real Wagtail admin: user name and password typed again under the login
throttle, the meaning stored, shown on the version's page and in its history, and printed on its PDF."""

import datetime
import importlib
import re
import subprocess
import tempfile
from html import unescape
from pathlib import Path

import pytest
from django.apps import apps
from django.contrib.messages import get_messages
from django.utils import timezone
from wagtail.models import GroupApprovalTask, TaskState, WorkflowPage, WorkflowTask

from regulatory import services
from regulatory.models import ApprovalSignature, AuditEntry, ProtocolVersionPage, Role, SignedApprovalTask
from regulatory.services.signatures import PARIS
from regulatory.tests.factories import PASSWORD, make_member, protocol_of
from regulatory.tests.test_workflow import act, client_for, create_amendment

MEANING = re.compile(r"Approuvé par (?P<name>.+) en tant que (?P<role>.+), le (?P<date>\d\d/\d\d/\d{4}) à "
                     r"(?P<time>\d\d:\d\d) \(heure de Paris\)")


@pytest.fixture
def approver(world):
    return make_member("sponsor-ra", role=Role.SPONSOR, trial=world.trial)


def in_progress(page) -> TaskState:
    return TaskState.objects.get(workflow_state__object_id=str(page.pk), status="in_progress")


def post_approval(user, page, *, username=None, password=PASSWORD, xhr=False, client=None):
    """Post an approval as Wagtail's modal does (a new session unless `client`: logging in clears failures)."""
    client = client or client_for(user)
    task_state = in_progress(page)
    url = f"/admin/pages/workflow/action/{page.pk}/approve/{task_state.pk}/"
    headers = {"HTTP_X_REQUESTED_WITH": "XMLHttpRequest"} if xhr else {}
    response = client.post(url, {"username": user.get_username() if username is None else username,
                                 "password": password, "comment": ""}, **headers)
    return response, [unescape(str(m)) for m in get_messages(response.wsgi_request)]


def pdf_text(data: bytes) -> str:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "file.pdf"
        path.write_bytes(data)
        out = subprocess.run(["pdftotext", str(path), "-"], capture_output=True, text=True, check=True).stdout
    return " ".join(out.split())


def test_the_author_is_not_offered_the_final_approval_and_a_posted_one_is_refused(world, approver):
    version = create_amendment(world)  # drafted and submitted by world.sponsor
    act(world.qa, version, "approve")
    task = in_progress(version).task.specific
    assert isinstance(task, SignedApprovalTask)
    assert "approve" not in [name for name, _label, _modal in task.get_actions(version, world.sponsor)]
    assert "approve" in [name for name, _label, _modal in task.get_actions(version, approver)]
    sponsor_editor = unescape(client_for(world.sponsor).get(f"/admin/pages/{version.pk}/edit/").content.decode())
    approver_editor = unescape(client_for(approver).get(f"/admin/pages/{version.pk}/edit/").content.decode())
    assert "Signer l'approbation" not in sponsor_editor and "Signer l'approbation" in approver_editor

    response, messages = post_approval(world.sponsor, version)
    assert response.status_code == 302 and response["Location"] == f"/admin/pages/{version.pk}/edit/"
    assert any("quatre yeux" in m for m in messages), messages
    version.refresh_from_db()
    assert not version.live and in_progress(version).task_id == task.pk
    assert not ApprovalSignature.objects.filter(page_id=version.pk, signer=world.sponsor).exists()
    assert AuditEntry.objects.filter(action="approval.refused", object_id=str(version.pk),
                                     actor=world.sponsor).exists()


def test_a_wrong_password_approves_nothing_and_counts_as_a_failed_login(world, approver):
    version = create_amendment(world)
    act(world.qa, version, "approve")
    step = in_progress(version)
    response, messages = post_approval(approver, version, password="not the password")
    assert response.status_code == 302
    assert any("mot de passe" in m and "rien n'a été approuvé" in m for m in messages), messages
    step.refresh_from_db()
    version.refresh_from_db()
    assert step.status == "in_progress" and not version.live
    assert not ApprovalSignature.objects.filter(task_state=step).exists()
    assert not AuditEntry.objects.filter(action="approval.signed", object_id=str(version.pk),
                                         actor=approver).exists()
    assert AuditEntry.objects.filter(action="auth.login_failed", object_repr="sponsor-ra").exists()


def test_another_users_right_credentials_do_not_sign(world, approver):
    version = create_amendment(world)
    act(world.qa, version, "approve")
    _response, messages = post_approval(approver, version, username="qa", password=PASSWORD)
    assert any("mot de passe" in m for m in messages), messages
    assert in_progress(version).status == "in_progress"
    assert not ApprovalSignature.objects.filter(page_id=version.pk, signer=approver).exists()


def test_an_approval_without_the_password_is_not_given(world, approver):
    version = create_amendment(world)
    act(world.qa, version, "approve")
    response, _messages = post_approval(approver, version, password="", xhr=True)
    assert response.status_code == 200 and "mot de passe" in response.content.decode()  # the modal, with its error
    assert in_progress(version).status == "in_progress"
    assert not ApprovalSignature.objects.filter(page_id=version.pk, signer=approver).exists()


def test_approving_is_suspended_while_the_login_throttle_is_in_force(world, approver):
    version = create_amendment(world)
    act(world.qa, version, "approve")
    session = client_for(approver)  # one session: a login in between would clear the failures
    for _ in range(5):
        post_approval(approver, version, password="still wrong", client=session)
    _response, messages = post_approval(approver, version, client=session)  # the right password, too late
    assert any("suspendue" in m for m in messages), messages
    assert in_progress(version).status == "in_progress"
    assert AuditEntry.objects.filter(action="approval.signing_throttled", actor=approver).exists()


def test_a_signed_approval_states_its_meaning_on_the_page_the_history_and_the_pdf(world, approver):
    version = create_amendment(world)
    act(world.qa, version, "approve")
    response, messages = post_approval(approver, version)
    assert response.status_code == 302
    version = ProtocolVersionPage.objects.get(pk=version.pk)
    assert version.live

    signatures = services.signatures_of(version)
    assert [(s.signer, s.role) for s in signatures] == [(world.qa, "assurance qualité promoteur"),
                                                        (approver, "promoteur")]
    final = signatures[-1]
    found = MEANING.fullmatch(final.meaning)
    assert found and found["name"] == "Sponsor-Ra Test" and found["role"] == "promoteur"
    local = timezone.localtime(final.signed_at, PARIS)
    assert (found["date"], found["time"]) == (f"{local:%d/%m/%Y}", f"{local:%H:%M}")
    assert final.revision_id == version.live_revision_id
    assert final.task_state.status == "approved" and final.meaning in final.task_state.comment
    assert any(final.meaning in m for m in messages), messages
    signed = AuditEntry.objects.get(action="approval.signed", object_id=str(version.pk), actor=approver)
    assert signed.changes["meaning"] == [None, final.meaning]

    front = unescape(client_for(world.coordinator_a).get(version.url).content.decode())
    assert final.meaning in front and signatures[0].meaning in front
    history = unescape(client_for(world.sponsor).get(f"/admin/pages/{version.pk}/history/").content.decode())
    assert final.meaning in history

    from regulatory.models import TmfDocument
    from regulatory.tmf.sheets import protocol_sheet

    document = TmfDocument.objects.filter(source_id=str(version.pk)).first()
    assert document is not None
    text = pdf_text(protocol_sheet(version, document))
    assert final.meaning in text and signatures[0].meaning in text


def test_a_signature_is_never_changed(world, approver):
    version = create_amendment(world)
    act(world.qa, version, "approve")
    signature = ApprovalSignature.objects.get(page_id=version.pk)
    signature.meaning = "Approuvé par quelqu'un d'autre"
    with pytest.raises(Exception, match="jamais modifiée|never changed"):
        signature.save()


def test_consent_form_versions_have_their_own_signed_review_workflow(world):
    from consent.services.forms import index_of

    protocol_workflow = WorkflowPage.objects.get(page=protocol_of(world.trial)).workflow
    consent_workflow = WorkflowPage.objects.get(page=index_of(world.trial)).workflow
    assert protocol_workflow.name == "Revue du protocole — NCT07063680"
    assert consent_workflow.name == "Revue des formulaires de consentement — NCT07063680"
    for workflow in (protocol_workflow, consent_workflow):
        tasks = [t.specific for t in workflow.tasks.order_by("workflow_tasks__sort_order")]
        assert [type(t) for t in tasks] == [SignedApprovalTask, SignedApprovalTask]


def test_a_consent_form_version_is_approved_by_signatures_printed_on_its_master(world, approver):
    from consent import masters
    from consent.services.forms import consent_version_create

    draft = consent_version_create(actor=world.sponsor, trial=world.trial, kind="patient", language="fr",
                                   version_number="3.0", version_date=datetime.date(2026, 11, 2),
                                   title="Formulaire patient v3.0")
    draft.get_workflow().start(draft, world.sponsor)
    assert draft.current_workflow_state.workflow.name.startswith("Revue des formulaires de consentement")
    _response, messages = post_approval(world.sponsor, draft)  # the author is not a QA reviewer: refused
    assert in_progress(draft).task.name.startswith("Revue AQ")
    post_approval(world.qa, draft)
    _response, messages = post_approval(world.sponsor, draft)
    assert any("quatre yeux" in m for m in messages), messages
    post_approval(approver, draft)
    draft.refresh_from_db()
    assert draft.live
    meanings = [s.meaning for s in services.signatures_of(draft)]
    assert len(meanings) == 2 and all(MEANING.fullmatch(m) for m in meanings)
    text = pdf_text(masters.render([draft], site=None, trial=world.trial))
    for meaning in meanings:
        assert meaning in text


def test_the_migration_turns_existing_review_steps_into_signed_approvals(world):
    """Databases made before signed approvals: each trial's group approval steps are replaced, steps in progress
    included, and consent forms leave the protocol's workflow for their own."""
    from consent.services.forms import index_of

    protocol = protocol_of(world.trial)
    workflow = WorkflowPage.objects.get(page=protocol).workflow
    for link in WorkflowTask.objects.filter(workflow=workflow):  # back to what Wagtail's own task was
        signed = link.task.specific
        old = GroupApprovalTask.objects.create(name=signed.name)
        old.groups.set(signed.groups.all())
        link.task = old
        link.save()
    WorkflowPage.objects.filter(page=index_of(world.trial)).update(workflow=workflow)
    version = create_amendment(world)
    assert type(in_progress(version).task.specific) is GroupApprovalTask

    importlib.import_module("regulatory.migrations.0013_review_steps_become_signed_approvals").sign_review_steps(
        apps, None)
    importlib.import_module("consent.migrations.0006_consent_forms_review_workflow").own_consent_workflow(apps, None)

    assert all(isinstance(t.specific, SignedApprovalTask) for t in workflow.tasks.all())
    assert isinstance(in_progress(version).task.specific, SignedApprovalTask)
    assert not GroupApprovalTask.objects.filter(active=True, groups__trial_role__trial=world.trial).exists()
    consent_workflow = WorkflowPage.objects.get(page=index_of(world.trial)).workflow
    assert consent_workflow.pk != workflow.pk
    assert consent_workflow.name == "Revue des formulaires de consentement — NCT07063680"
    assert [t.specific.groups.get() for t in consent_workflow.tasks.order_by("workflow_tasks__sort_order")] == [
        t.specific.groups.get() for t in workflow.tasks.order_by("workflow_tasks__sort_order")]


def test_signing_from_the_editor_saves_no_revision_and_a_wrong_password_writes_nothing(world, approver):
    """The editor posts its whole form with the signature typed in the modal: the approver signs the version as
    submitted; nothing of the form is saved (else the approver would become one of its authors)."""
    import json

    from regulatory.tests.test_workflow import form_data

    version = create_amendment(world)
    act(world.qa, version, "approve")
    revisions = version.revisions.count()
    client = client_for(approver)
    url = f"/admin/pages/{version.pk}/edit/"

    def post(password):
        data = form_data(client, url)
        data["summary_of_changes"] = "Changed by the approver while approving"
        data["action-workflow-action"] = "true"
        data["workflow-action-name"] = "approve"
        data["workflow-action-extra-data"] = json.dumps({"username": "sponsor-ra", "password": password,
                                                         "comment": "Relu."})
        response = client.post(url, data)
        return response, [unescape(str(m)) for m in get_messages(response.wsgi_request)]

    response, messages = post("wrong password")
    assert response.status_code == 302 and any("rien n'a été approuvé" in m for m in messages), messages
    version = ProtocolVersionPage.objects.get(pk=version.pk)
    assert not version.live and version.revisions.count() == revisions
    assert not ApprovalSignature.objects.filter(page_id=version.pk, signer=approver).exists()

    response, messages = post(PASSWORD)
    version = ProtocolVersionPage.objects.get(pk=version.pk)
    assert version.live and version.revisions.count() == revisions
    assert version.summary_of_changes == "Critère de non-inclusion modifié."
    signature = ApprovalSignature.objects.get(page_id=version.pk, signer=approver)
    assert signature.comment == "Relu." and any(signature.meaning in m for m in messages), messages
