"""The sponsor's review workflow through the real Wagtail admin: draft → sponsor QA review → approval →
publication (now, or scheduled and run by publish_scheduled), with the page locked while in review. Each approval
is signed with the approver's user name and password, and given by someone other than the version's author (the
sponsor drafts; a second sponsor account, `sponsor-ra`, approves)."""

import datetime
from io import StringIO

import pytest
from django.core.management import call_command
from django.test import Client
from django.utils import timezone
from django.utils.html import escape
from wagtail.models import TaskState
from wagtail.test.utils.form_data import querydict_from_html

from regulatory.models import AuditEntry, ProtocolVersionPage, Role
from regulatory.tests.factories import PASSWORD, make_member, protocol_of


@pytest.fixture
def approver(world):
    """A second sponsor account: the author of a version never gives its final approval (four eyes)."""
    return make_member("sponsor-ra", role=Role.SPONSOR, trial=world.trial)


def client_for(user):
    client = Client()
    client.force_login(user)
    return client


def form_data(client, url):
    """The editor's form as a browser would post it (StreamField management data is built by JavaScript)."""
    data = querydict_from_html(client.get(url).content.decode(), form_id="page-edit-form")
    data.setdefault("body-count", "0")
    return data


def create_amendment(world, *, action="action-submit", go_live_at=""):
    sponsor = client_for(world.sponsor)
    protocol = protocol_of(world.trial)
    url = f"/admin/pages/add/regulatory/protocolversionpage/{protocol.pk}/"
    data = form_data(sponsor, url)
    data.update({
        "title": "Protocole v2.0 — amendement 1", "slug": "v2-0", "version_number": "2.0",
        "version_date": "2026-02-20", "amendment_number": "1", "substantial": "on",
        "summary_of_changes": "Critère de non-inclusion modifié.", "rationale": "Sécurité.",
        "affected_sections": "5.2", "go_live_at": go_live_at,
    })
    data.setlist("affected_consent_kinds", ["patient"])
    data[action] = action
    response = sponsor.post(url, data)
    assert response.status_code == 302, response.content.decode()[:3000]
    return ProtocolVersionPage.objects.child_of(protocol).get(version_number="2.0")


def act(user, page, action, *, password=PASSWORD, username=None):
    """Post a workflow action as Wagtail's modal does; an approval carries the approver's signature."""
    task_state = TaskState.objects.get(workflow_state__base_content_type__isnull=False,
                                       workflow_state__object_id=str(page.pk), status="in_progress")
    url = f"/admin/pages/workflow/action/{page.pk}/{action}/{task_state.pk}/"
    data = {"comment": ""}
    if action == "approve":
        data.update(username=user.get_username() if username is None else username, password=password)
    return client_for(user).post(url, data)


def current_task_name(page):
    page = ProtocolVersionPage.objects.get(pk=page.pk)
    return page.current_workflow_task.name if page.current_workflow_task else None


def test_submitted_version_goes_to_qa_review_then_sponsor_approval_then_is_published(world, approver):
    version = create_amendment(world)
    assert not version.live
    assert current_task_name(version).startswith("Revue AQ") or "QA" in current_task_name(version)

    response = act(world.qa, version, "approve")
    assert response.status_code in (200, 302)
    assert "approval" in current_task_name(version).lower() or "Approbation" in current_task_name(version)
    version.refresh_from_db()
    assert not version.live

    act(approver, version, "approve")
    version.refresh_from_db()
    assert version.live and current_task_name(version) is None
    published = AuditEntry.objects.filter(action="protocolversion.published", object_id=str(version.pk))
    assert published.count() == 1 and published.get().actor == approver
    assert published.get().changes["version_number"] == [None, "2.0"]


def test_the_page_is_locked_for_its_author_while_in_qa_review(world):
    version = create_amendment(world)
    sponsor = client_for(world.sponsor)
    url = f"/admin/pages/{version.pk}/edit/"
    data = form_data(sponsor, url)
    data["summary_of_changes"] = "Changed during review"
    data["action-save"] = "action-save"
    sponsor.post(url, data)
    version = ProtocolVersionPage.objects.get(pk=version.pk)
    assert version.get_latest_revision_as_object().summary_of_changes == "Critère de non-inclusion modifié."


def test_site_staff_and_inspectors_cannot_approve(world):
    version = create_amendment(world)
    for user in (world.inspector, world.coordinator_a):
        act(user, version, "approve")
    assert current_task_name(version).startswith("Revue AQ") or "QA" in current_task_name(version)


def test_qa_can_reject_and_nothing_is_published(world):
    version = create_amendment(world)
    act(world.qa, version, "reject")
    version.refresh_from_db()
    assert not version.live


def test_an_approved_version_cannot_be_edited_in_the_admin(world, approver):
    version = create_amendment(world)
    act(world.qa, version, "approve")
    act(approver, version, "approve")
    sponsor = client_for(world.sponsor)
    url = f"/admin/pages/{version.pk}/edit/"
    data = form_data(sponsor, url)
    data["summary_of_changes"] = "Edited after approval"
    data["action-save"] = "action-save"
    response = sponsor.post(url, data, follow=True)  # refused with the reason, back to the read-only editor
    assert response.status_code == 200 and response.redirect_chain[0][1] == 302
    assert "frozen" in response.content.decode() or "figée" in response.content.decode()
    version.refresh_from_db()
    assert version.summary_of_changes == "Critère de non-inclusion modifié."


def test_scheduled_go_live_is_run_by_publish_scheduled(world, monkeypatch, approver):
    go_live = timezone.localtime() + datetime.timedelta(days=3)
    version = create_amendment(world, go_live_at=go_live.strftime("%Y-%m-%d %H:%M"))
    act(world.qa, version, "approve")
    act(approver, version, "approve")
    version.refresh_from_db()
    assert not version.live
    call_command("publish_scheduled", stdout=StringIO())
    version.refresh_from_db()
    assert not version.live
    assert version.revisions.exclude(approved_go_live_at=None).exists()
    three_days_later = timezone.now() + datetime.timedelta(days=3, minutes=1)
    monkeypatch.setattr("django.utils.timezone.now", lambda: three_days_later)
    call_command("publish_scheduled", stdout=StringIO())
    version.refresh_from_db()
    assert version.live
    entry = AuditEntry.objects.get(action="protocolversion.published", object_id=str(version.pk))
    assert entry.actor is None and entry.actor_label == "system"


@pytest.mark.parametrize("persona", ["qa", "inspector", "coordinator_a"])
def test_only_the_sponsor_creates_protocol_versions(world, persona):
    client = client_for(getattr(world, persona))
    url = f"/admin/pages/add/regulatory/protocolversionpage/{protocol_of(world.trial).pk}/"
    client.post(url, {"title": "x", "slug": "x", "version_number": "9.0", "version_date": "2026-01-01"})
    assert not ProtocolVersionPage.objects.filter(version_number="9.0").exists()


def test_a_protocol_version_cannot_be_published_without_review(world):
    with pytest.raises(ProtocolVersionPage.DoesNotExist):
        create_amendment(world, action="action-publish")
    assert not AuditEntry.objects.filter(action="protocolversion.published").exists()


def test_a_draft_version_cannot_be_published_from_the_editor(world):
    version = create_amendment(world, action="action-save")
    sponsor = client_for(world.sponsor)
    url = f"/admin/pages/{version.pk}/edit/"
    data = form_data(sponsor, url)
    data["action-publish"] = "action-publish"
    sponsor.post(url, data)
    version.refresh_from_db()
    assert not version.live


def test_the_editor_offers_submission_not_direct_publication(world):
    sponsor = client_for(world.sponsor)
    body = sponsor.get(f"/admin/pages/add/regulatory/protocolversionpage/{protocol_of(world.trial).pk}/")
    html = body.content.decode()
    assert 'name="action-submit"' in html and 'name="action-publish"' not in html


def test_bulk_publish_of_a_protocol_version_is_refused(world):
    draft = ProtocolVersionPage.objects.get(pk=create_amendment(world, action="action-save").pk)
    client_for(world.admin).post(f"/admin/bulk/wagtailcore/page/publish/?id={draft.pk}", {"include_descendants": ""})
    draft.refresh_from_db()
    assert not draft.live


def test_the_page_history_reads_who_did_what(world, approver):
    version = create_amendment(world)
    act(world.qa, version, "approve")
    act(approver, version, "approve")
    body = client_for(world.sponsor).get(f"/admin/pages/{version.pk}/history/").content.decode()
    for name in ("Sponsor Test", "Qa Test", "Sponsor-Ra Test"):
        assert name in body


def test_sponsor_files_correspondence_and_attachments_in_the_admin(world):
    from regulatory.models import CorrespondenceIndexPage, TrialCollection

    sponsor = client_for(world.sponsor)
    index = CorrespondenceIndexPage.objects.child_of(world.trial).get()
    assert sponsor.get(f"/admin/pages/add/regulatory/submissionpage/{index.pk}/").status_code == 200
    upload = sponsor.get("/admin/documents/multiple/add/").content.decode()
    for scope in TrialCollection.objects.filter(trial=world.trial):
        assert escape(scope.collection.name) in upload
    other = TrialCollection.objects.filter(trial=world.other_trial).first()
    assert escape(other.collection.name) not in upload
