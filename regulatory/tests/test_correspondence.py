"""Correspondence: submissions whose status derives from their letters, visible to trial-wide roles only."""

import datetime

import pytest
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from wagtail.documents.models import Document

from regulatory import services
from regulatory.models import CorrespondenceIndexPage, TrialCollection
from regulatory.tests.factories import make_version


@pytest.fixture
def submission(world):
    index = CorrespondenceIndexPage.objects.child_of(world.trial).get()
    return services.submission_create(actor=world.sponsor, index=index, title="Modification substantielle 1",
                                      correspondent="ethics_committee", correspondent_name="CPP Test",
                                      reference="CPP-2026-01")


def letter(world, submission, item_type, direction, day, **fields):
    return services.correspondence_item_create(
        actor=world.sponsor, submission=submission, title=f"{item_type} {day}", direction=direction,
        date=datetime.date(2026, 3, day), item_type=item_type, correspondent="CPP Test", **fields)


def test_status_derives_from_the_letters(world, submission):
    assert submission.status == "pending"
    letter(world, submission, "modification_submission", "sent", 1)
    letter(world, submission, "request_for_information", "received", 5)
    assert submission.status == "pending"
    letter(world, submission, "response", "sent", 9)
    letter(world, submission, "favourable_opinion", "received", 20)
    assert submission.status == "approved"


@pytest.mark.parametrize("decision,status", [("unfavourable_opinion", "rejected"), ("withdrawal", "withdrawn")])
def test_rejected_and_withdrawn_submissions(world, submission, decision, status):
    letter(world, submission, "modification_submission", "sent", 1)
    letter(world, submission, decision, "received" if decision.endswith("opinion") else "sent", 10)
    assert submission.status == status


def test_letters_are_threaded_by_date(world, submission):
    letter(world, submission, "favourable_opinion", "received", 20)
    letter(world, submission, "modification_submission", "sent", 1)
    assert [item.item_type for item in submission.items()] == ["modification_submission", "favourable_opinion"]


@pytest.mark.parametrize("item_type,direction", [("favourable_opinion", "sent"), ("response", "received"),
                                                 ("request_for_information", "sent")])
def test_impossible_direction_is_refused(world, submission, item_type, direction):
    with pytest.raises(ValidationError):
        letter(world, submission, item_type, direction, 3)
    assert not submission.get_children().exists()


def test_a_letter_links_the_versions_it_concerns(world, submission):
    v2 = make_version(trial=world.trial, number="2.0", amendment=1, substantial=True)
    item = letter(world, submission, "favourable_opinion", "received", 20, concerns=[v2])
    assert [link.page_id for link in item.links.all()] == [v2.pk]


def test_thread_view_shows_the_submission_from_first_letter_to_decision(world, submission, as_user):
    letter(world, submission, "modification_submission", "sent", 1)
    letter(world, submission, "favourable_opinion", "received", 20)
    body = as_user(world.inspector).get(submission.url).content.decode()
    assert body.index("modification_submission 1") < body.index("favourable_opinion 20")
    assert "status-approved" in body


@pytest.mark.parametrize("persona,status", [("sponsor", 200), ("qa", 200), ("inspector", 200), ("admin", 200),
                                            ("coordinator_a", 404), ("investigator_a", 404), ("other_sponsor", 404),
                                            ("nobody", 404)])
def test_correspondence_is_for_trial_wide_roles_only(world, submission, as_user, persona, status):
    client = as_user(getattr(world, persona))
    index = CorrespondenceIndexPage.objects.child_of(world.trial).get()
    assert client.get(index.url).status_code == status
    assert client.get(submission.url).status_code == status


def private_document(world, audience):
    scope = TrialCollection.objects.get(trial=world.trial, audience=audience)
    document = Document(title="Avis du CPP", collection=scope.collection)
    document.file.save("avis-cpp.pdf", ContentFile(b"%PDF-1.4 test"), save=False)
    document.save()
    return document


@pytest.mark.parametrize("persona,status", [("sponsor", 200), ("inspector", 200), ("coordinator_a", 404),
                                            ("other_sponsor", 404)])
def test_correspondence_attachments_are_private(world, as_user, persona, status):
    document = private_document(world, TrialCollection.Audience.TRIAL_WIDE)
    response = as_user(getattr(world, persona)).get(document.url)
    assert response.status_code == status


@pytest.mark.parametrize("persona,status", [("coordinator_a", 200), ("coordinator_b", 200), ("other_sponsor", 404)])
def test_protocol_documents_are_readable_by_the_whole_trial(world, as_user, persona, status):
    document = private_document(world, TrialCollection.Audience.TRIAL)
    assert as_user(getattr(world, persona)).get(document.url).status_code == status


def test_documents_need_a_login_and_are_never_under_media_url(world, client, settings):
    document = private_document(world, TrialCollection.Audience.TRIAL)
    response = client.get(document.url)
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]
    assert client.get(settings.MEDIA_URL + document.file.name).status_code == 404


def test_a_document_outside_trial_collections_is_for_administrators_only(world, as_user):
    from wagtail.models import Collection

    document = Document(title="Loose", collection=Collection.get_first_root_node())
    document.file.save("loose.pdf", ContentFile(b"%PDF-1.4 x"), save=False)
    document.save()
    assert as_user(world.sponsor).get(document.url).status_code == 404
    assert as_user(world.admin).get(document.url).status_code == 200
