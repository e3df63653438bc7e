"""Issue 12: Wagtail's own page actions obey the product's rules, decided in `regulatory.permissions`.

Copy, alias, move, delete, unpublish and privacy are refused on every page of a trial, to everyone; revert, lock
and unlock are the sponsor's (and an administrator's) on a page that is not frozen; cancelling a review is not QA's.
What is refused is not offered by the admin, and a direct request (GET or POST) is answered with its reason and a
redirect, nothing written. An approved version opens read-only. Version numbers are unique per trial (kind and
language for consent forms) in the database, and a duplicate typed in the editor is an error on its field."""

import datetime

import pytest
from django.contrib.messages import get_messages
from django.db import IntegrityError, transaction
from django.utils import timezone
from wagtail.admin.panels import FieldPanel, TitleFieldPanel
from wagtail.models import Page, PageLogEntry, PageViewRestriction, Revision, WorkflowState
from wagtail.test.utils.form_data import querydict_from_html

from consent import services as consent_services
from consent.models import ConsentFormIndexPage, ConsentFormVersionPage
from consent.tests.factories import make_form
from regulatory import permissions
from regulatory.models import (
    AuditEntry,
    CorrespondenceIndexPage,
    CorrespondenceItemPage,
    ProtocolPage,
    ProtocolVersionPage,
    SubmissionPage,
    TrialPage,
)
from regulatory.tests.factories import make_opinion, make_version, protocol_of

TRIAL_PAGE_TYPES = [TrialPage, ProtocolPage, ProtocolVersionPage, CorrespondenceIndexPage, SubmissionPage,
                    CorrespondenceItemPage, ConsentFormIndexPage, ConsentFormVersionPage]


def state():
    """Everything a page action could write: pages and their state, revisions, logs, audit, workflows, privacy."""
    return (
        tuple(Page.objects.order_by("pk").values_list("pk", "path", "live", "locked", "has_unpublished_changes",
                                                      "latest_revision_id", "title")),
        Revision.objects.count(), PageLogEntry.objects.count(),
        AuditEntry.objects.exclude(action__startswith="auth.").count(),  # not the test client's own logins
        WorkflowState.objects.filter(status="in_progress").count(), PageViewRestriction.objects.count(),
    )


def messages_of(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


@pytest.fixture
def pages(world):
    trial = world.trial
    v1 = make_version(trial=trial, number="1.0")
    draft = make_version(trial=trial, number="2.0", amendment=1, publish=False)
    form = make_form(trial=trial, kind="patient")
    consent_services.form_make_effective(actor=world.sponsor, version=form, sites=[world.site_a],
                                         effective_from=timezone.now() - datetime.timedelta(days=1))
    letter = make_opinion(trial=trial, version=v1)
    return {"trial": trial, "protocol": protocol_of(trial), "v1": v1, "draft": draft, "form": form,
            "letter": letter, "submission": letter.get_parent().specific}


def _copy_data(page):
    return {"new_title": "Copie", "new_slug": "copie", "new_parent_page": page.get_parent().pk,
            "publish_copies": "on"}


ALWAYS_REFUSED = [
    ("copy", lambda page: f"/admin/pages/{page.pk}/copy/", _copy_data),
    ("alias", lambda page: f"/admin/pages/{page.pk}/copy/",
     lambda page: {**_copy_data(page), "alias": "on"}),
    ("unpublish", lambda page: f"/admin/pages/{page.pk}/unpublish/", lambda page: {}),
    ("delete", lambda page: f"/admin/pages/{page.pk}/delete/", lambda page: {}),
    ("move", lambda page: f"/admin/pages/{page.pk}/move/{page.get_parent().pk}/confirm/", lambda page: {}),
    ("privacy", lambda page: f"/admin/pages/{page.pk}/privacy/", lambda page: {"restriction_type": "login"}),
]


@pytest.mark.parametrize("action,url,data", ALWAYS_REFUSED, ids=[row[0] for row in ALWAYS_REFUSED])
def test_refused_page_actions_are_refused_with_a_message_and_write_nothing(world, pages, client, action, url,
                                                                           data):
    """On every kind of trial page, as the trial's sponsor and as an administrator, asked by GET and by POST."""
    for persona in ("sponsor", "admin"):
        client.force_login(getattr(world, persona))
        before = state()
        for key in ("v1", "form", "trial", "letter", "submission", "protocol"):
            page = pages[key]
            # The copy view asked by GET is a copy; its POST with "alias" is an alias.
            for asked, response in (("copy" if action == "alias" else action, client.get(url(page))),
                                    (action, client.post(url(page), data(page)))):
                assert response.status_code == 302, (persona, action, key, response.status_code)
                assert response["Location"].startswith("/admin/pages/")
                assert str(permissions.ALWAYS_REFUSED[asked]) in messages_of(response), (persona, action, key)
        assert state() == before, (persona, action)


def test_a_published_version_copied_with_publish_copies_makes_no_live_duplicate(world, pages, as_user):
    """The issue's case: as sponsor, copy of published v1.0 'with publish copies'."""
    version = pages["v1"]
    as_user(world.sponsor).post(f"/admin/pages/{version.pk}/copy/", _copy_data(version))
    assert ProtocolVersionPage.objects.filter(version_number="1.0").count() == 1
    form = pages["form"]
    as_user(world.sponsor).post(f"/admin/pages/{form.pk}/copy/", _copy_data(form))
    assert ConsentFormVersionPage.objects.filter(kind="patient").count() == 1


def test_an_in_force_consent_version_is_never_unpublished(world, pages, as_user):
    form = pages["form"]
    response = as_user(world.sponsor).post(f"/admin/pages/{form.pk}/unpublish/", {})
    assert response.status_code == 302
    form.refresh_from_db()
    assert form.live and form.withdrawn_at is None


@pytest.mark.parametrize("action", ["delete", "unpublish", "move"])
def test_bulk_actions_are_refused_like_the_single_ones(world, pages, as_user, action):
    ids = f"id={pages['form'].pk}&id={pages['v1'].pk}"
    url = f"/admin/bulk/wagtailcore/page/{action}/?{ids}"
    before = state()
    response = as_user(world.admin).post(url, {"chooser": pages["protocol"].pk} if action == "move" else {})
    assert response.status_code == 302
    assert any(str(permissions.ALWAYS_REFUSED[action]) == m for m in messages_of(response))
    assert state() == before, list(AuditEntry.objects.order_by("-pk").values_list("action", "object_repr")[:3])


def test_the_admin_does_not_offer_refused_actions(world, pages, as_user):
    for persona in (world.sponsor, world.admin):
        for key in ("v1", "form", "trial", "letter", "draft"):
            tester = pages[key].permissions_for_user(persona)
            assert not tester.can_copy() and not tester.can_move() and not tester.can_delete()
            assert not tester.can_unpublish() and not tester.can_set_view_restrictions()
            assert not tester.can_copy_to(pages[key].get_parent())
        frozen = pages["v1"].permissions_for_user(persona)
        assert not frozen.can_lock() and not frozen.can_unlock()
        assert pages["draft"].permissions_for_user(persona).can_lock()
    client = as_user(world.sponsor)
    listing = client.get(f"/admin/pages/{pages['protocol'].pk}/").content.decode()
    for key in ("v1", "draft"):
        for action in ("copy", "unpublish", "delete", "move"):
            assert f"/admin/pages/{pages[key].pk}/{action}/" not in listing
    editor = client.get(f"/admin/pages/{pages['form'].pk}/edit/").content.decode()
    for action in ("copy", "unpublish", "delete", "move"):
        assert f"/admin/pages/{pages['form'].pk}/{action}/" not in editor


def test_lock_and_unlock_are_the_sponsors_on_a_draft_and_nobodys_on_a_frozen_version(world, pages, as_user):
    draft, frozen = pages["draft"], pages["v1"]
    before = state()
    response = as_user(world.qa).post(f"/admin/pages/{draft.pk}/lock/")
    assert response.status_code == 302 and str(permissions.SPONSOR_ONLY) in messages_of(response)
    response = as_user(world.other_sponsor).post(f"/admin/pages/{draft.pk}/lock/")
    assert response.status_code == 302 and str(permissions.SPONSOR_ONLY) in messages_of(response)
    for user in (world.sponsor, world.admin):
        for action in ("lock", "unlock"):
            response = as_user(user).post(f"/admin/pages/{frozen.pk}/{action}/")
            assert response.status_code == 302 and str(permissions.FROZEN) in messages_of(response)
    assert state() == before

    as_user(world.sponsor).post(f"/admin/pages/{draft.pk}/lock/")
    draft.refresh_from_db()
    assert draft.locked and draft.locked_by == world.sponsor
    as_user(world.sponsor).post(f"/admin/pages/{draft.pk}/unlock/")
    draft.refresh_from_db()
    assert not draft.locked


def test_reverting_a_frozen_version_is_refused(world, pages, as_user):
    form = pages["form"]
    revision = form.revisions.order_by("pk").first()
    before = state()
    for user in (world.sponsor, world.admin):
        client = as_user(user)
        url = f"/admin/pages/{form.pk}/revisions/{revision.pk}/revert/"
        for response in (client.get(url), client.post(url, {"title": "Autre titre"})):
            assert response.status_code == 302 and str(permissions.FROZEN) in messages_of(response)
    assert state() == before


def test_reverting_a_drafts_earlier_revision_is_the_sponsors_not_qas(world, pages, as_user):
    """A draft's revert is the sponsor's: QA is refused (by GET and POST) with its reason and nothing is written; the
    sponsor's revert saves the earlier revision's content as the draft's latest revision."""
    from regulatory.tests.test_workflow import form_data

    draft = pages["draft"]
    original = draft.get_latest_revision()
    changed = draft.get_latest_revision_as_object()
    changed.title = "Protocole v2.0 — titre changé"
    changed.save_revision(user=world.sponsor)
    draft.refresh_from_db()
    assert draft.get_latest_revision_as_object().title == "Protocole v2.0 — titre changé"
    url = f"/admin/pages/{draft.pk}/revisions/{original.pk}/revert/"
    sponsor = as_user(world.sponsor)
    data = form_data(sponsor, url)  # the editor filled with the earlier revision, as the sponsor's browser posts it
    assert data["title"] == "Protocol v2.0"

    qa = as_user(world.qa)
    before = state()
    for response in (qa.get(url), qa.post(url, data)):
        assert response.status_code == 302 and str(permissions.SPONSOR_ONLY) in messages_of(response)
    assert state() == before
    assert not permissions.page_action_allowed(world.qa, draft, "revert")
    assert permissions.page_action_allowed(world.sponsor, draft, "revert")

    revisions = draft.revisions.count()
    response = as_user(world.sponsor).post(url, data)
    assert response.status_code == 302, response.content.decode()[:2000]
    draft.refresh_from_db()
    assert draft.revisions.count() == revisions + 1
    latest = draft.get_latest_revision()
    assert latest.pk != original.pk and latest.user == world.sponsor
    assert draft.get_latest_revision_as_object().title == "Protocol v2.0"
    assert not draft.live  # still a draft: reverting saves a draft, publishes nothing


def test_qa_may_not_cancel_a_review(world, as_user):
    from regulatory.tests.test_workflow import create_amendment, form_data

    version = create_amendment(world)  # submitted: in QA's review
    url = f"/admin/pages/{version.pk}/edit/"
    qa = as_user(world.qa)
    page = qa.get(url).content.decode()
    assert 'name="action-cancel-workflow"' not in page
    data = form_data(qa, url)
    data["action-cancel-workflow"] = "action-cancel-workflow"
    before = state()
    response = qa.post(url, data)
    assert response.status_code == 302 and str(permissions.SPONSOR_ONLY) in messages_of(response)
    assert state() == before
    assert 'name="action-cancel-workflow"' in as_user(world.sponsor).get(url).content.decode()


# --- A frozen version's editor is read-only ------------------------------------------------------------------------

@pytest.mark.parametrize("key", ["v1", "form"])
def test_a_frozen_versions_editor_is_read_only(world, pages, as_user, key):
    page = pages[key]
    client = as_user(world.sponsor)
    url = f"/admin/pages/{page.pk}/edit/"
    response = client.get(url)
    html = response.content.decode()
    assert response.status_code == 200
    assert response.context["page_locked"] is True
    assert "content-locked" in html
    assert 'name="action-save-draft"' not in html and 'name="action-submit"' not in html

    data = querydict_from_html(html, form_id="page-edit-form")
    for stream in ("body", "information", "consent"):  # what the StreamField's script would add
        data.setdefault(f"{stream}-count", "0")
    data["title"] = "Titre changé"
    before = state()
    response = client.post(url, data)
    assert response.status_code == 302 and str(permissions.FROZEN) in messages_of(response)
    assert state() == before


def test_a_draft_versions_editor_is_not_locked(world, pages, as_user):
    response = as_user(world.sponsor).get(f"/admin/pages/{pages['draft'].pk}/edit/")
    assert response.context["page_locked"] is False


# --- Version numbers unique per trial, kind and language ---------------------------------------------------------

def test_the_database_refuses_a_second_protocol_version_with_the_same_number(world, pages):
    with pytest.raises(IntegrityError), transaction.atomic():
        ProtocolVersionPage.objects.filter(pk=pages["draft"].pk).update(version_number="1.0")


def test_the_database_refuses_a_second_consent_version_of_the_same_kind_language_and_number(world, pages):
    other = make_form(trial=world.trial, kind="patient", number="1.1", publish=False, approved=False)
    with pytest.raises(IntegrityError), transaction.atomic():
        ConsentFormVersionPage.objects.filter(pk=other.pk).update(version_number="1.0")
    english = make_form(trial=world.trial, kind="patient", language="en", number="1.0", publish=False,
                        approved=False)
    surrogate = make_form(trial=world.trial, kind="surrogate", number="1.0", publish=False, approved=False)
    other_trial = make_form(trial=world.other_trial, kind="patient", number="1.0", publish=False, approved=False)
    assert {english.trial_id, surrogate.trial_id, other_trial.trial_id} == {world.trial.pk, world.other_trial.pk}


def test_a_duplicate_protocol_number_in_the_editor_is_an_error_on_its_field(world, pages, as_user):
    from regulatory.tests.test_workflow import form_data

    client = as_user(world.sponsor)
    url = f"/admin/pages/add/regulatory/protocolversionpage/{pages['protocol'].pk}/"
    data = form_data(client, url)
    data.update({"title": "Protocole v1.0 bis", "slug": "v1-0-bis", "version_number": "01.0",
                 "version_date": "2026-02-20", "amendment_number": "3", "action-submit": "action-submit"})
    before = state()
    response = client.post(url, data)
    assert response.status_code == 200
    assert "version_number" in response.context["form"].errors
    assert state() == before

    edit = f"/admin/pages/{pages['draft'].pk}/edit/"
    data = form_data(client, edit)
    data["version_number"] = "1.0"
    response = client.post(edit, data)
    assert response.status_code == 200 and "version_number" in response.context["form"].errors
    assert ProtocolVersionPage.objects.get(pk=pages["draft"].pk).version_number == "2.0"


def test_a_duplicate_consent_number_in_the_editor_is_an_error_on_its_field(world, pages, as_user):
    client = as_user(world.sponsor)
    index = pages["form"].get_parent()
    url = f"/admin/pages/add/consent/consentformversionpage/{index.pk}/"
    data = querydict_from_html(client.get(url).content.decode(), form_id="page-edit-form")
    data.update({"title": "Patient v1.0 bis", "slug": "", "kind": "patient", "language": "fr",
                 "version_number": "1.0", "version_date": "2026-02-20", "information-count": "0",
                 "consent-count": "0", "signers-count": "0", "comprehension-count": "0", "action-save-draft": "1"})
    before = state()
    response = client.post(url, data)
    assert response.status_code == 200
    assert "version_number" in response.context["form"].errors
    assert state() == before
    data.update({"language": "en", "title": "Patient v1.0 (English)"})
    response = client.post(url, data)
    assert response.status_code == 302, response.context["form"].errors
    created = ConsentFormVersionPage.objects.get(language="en")
    assert created.trial_id == world.trial.pk and created.slug == "patient-v10-english"


# --- Every editor: the title fills the slug, and no error hides on another tab ------------------------------------

@pytest.mark.parametrize("model", TRIAL_PAGE_TYPES, ids=lambda m: m.__name__)
def test_every_trial_page_editor_has_title_and_slug_together_on_its_first_tab(model):
    handler = model.get_edit_handler()
    first_tab = handler.children[0]

    def fields(panel):
        if isinstance(panel, FieldPanel):
            yield panel
        for child in getattr(panel, "children", []):
            yield from fields(child)

    found = list(fields(first_tab))
    title = next(p for p in found if p.field_name == "title")
    assert isinstance(title, TitleFieldPanel)
    assert any(p.field_name == "slug" for p in found)
    assert not any(p.field_name == "slug" for tab in handler.children[1:] for p in fields(tab))


def test_a_letter_publishes_as_typed_its_title_making_its_slug(world, pages, as_user):
    client = as_user(world.sponsor)
    url = f"/admin/pages/add/regulatory/correspondenceitempage/{pages['submission'].pk}/"
    html = client.get(url).content.decode()
    assert 'data-w-sync-target-value="#id_slug"' in html
    data = querydict_from_html(html, form_id="page-edit-form")
    data.update({"title": "Réponse à la demande d'informations", "slug": "", "direction": "received",
                 "date": "2026-03-02", "item_type": "other", "correspondent": "CPP Test",
                 "action-publish": "action-publish"})
    response = client.post(url, data)
    assert response.status_code == 302, response.context["form"].errors
    letter = CorrespondenceItemPage.objects.get(title="Réponse à la demande d'informations")
    assert letter.live and letter.slug == "réponse-à-la-demande-dinformations"


def test_an_error_on_a_letter_sits_on_its_field(world, pages, as_user):
    client = as_user(world.sponsor)
    url = f"/admin/pages/add/regulatory/correspondenceitempage/{pages['submission'].pk}/"
    data = querydict_from_html(client.get(url).content.decode(), form_id="page-edit-form")
    data.update({"title": "Avis", "slug": pages["letter"].slug, "direction": "received", "date": "2026-03-02",
                 "item_type": "other", "correspondent": "CPP Test", "action-publish": "action-publish"})
    response = client.post(url, data)
    assert response.status_code == 200
    assert list(response.context["form"].errors) == ["slug"]
    html = response.content.decode()
    # The slug field, with its error, is on the first tab (content), the one the editor is looking at.
    content_tab = html.split('role="tabpanel"')[1]
    assert 'name="slug"' in content_tab and "error-message" in content_tab
