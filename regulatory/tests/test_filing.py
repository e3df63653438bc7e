"""Automatic filing: every document the system holds lands on its TMF Reference Model artifact."""

import datetime

from django.utils import timezone

from consent.tests.factories import make_form
from regulatory import services
from regulatory.models import SiteActivation, TmfArtifact, TmfDocument
from regulatory.tests.factories import make_opinion, make_version, protocol_of
from regulatory.tmf import filing

# Names as the v3.3.1 spreadsheet gives them (the taxonomy itself is checked against the spreadsheet elsewhere).
EXPECTED_NAMES = {
    filing.PROTOCOL: "Protocol", filing.PROTOCOL_AMENDMENT: "Protocol Amendment",
    filing.INFORMED_CONSENT_FORM: "Informed Consent Form",
    filing.SUBJECT_INFORMATION_SHEET: "Subject Information Sheet",
    filing.REGULATORY_SUBMISSION: "Regulatory Submission", filing.REGULATORY_DECISION: "Regulatory Authority Decision",
    filing.IEC_SUBMISSION: "IRB or IEC Submission", filing.IEC_DECISION: "IRB or IEC Decision",
    filing.IEC_COMMUNICATIONS: "Relevant Communications", filing.REGULATORY_COMMUNICATIONS: "Relevant Communications",
    filing.PROTOCOL_SIGNATURE_PAGE: "Protocol Signature Page",
    filing.AMENDMENT_SIGNATURE_PAGE: "Protocol Amendment Signature Page",
    filing.REGULATORY_NOTIFICATION: "Notification of Safety or Trial Information",
    filing.REGULATORY_TERMINATION: "Regulatory Notification of Trial Termination",
    filing.IEC_SAFETY_NOTIFICATION: "Notification to IRB or IEC of Safety Information",
    filing.IEC_TERMINATION: "IRB or IEC Notification of Trial Termination",
    filing.SITE_SIGNATURE_SHEET: "Site Signature Sheet",  # the delegation log (issue 19)
}


def test_every_automatic_artifact_number_names_the_expected_artifact(db):
    assert set(filing.automatic_artifacts()) == set(EXPECTED_NAMES)
    for number, name in EXPECTED_NAMES.items():
        assert TmfArtifact.objects.get(number=number).name == name


def rows(**filters):
    return list(TmfDocument.objects.filter(**filters).values_list("artifact__number", "level", "country",
                                                                   "site__code", "status", "version"))


def test_protocol_versions_are_filed_and_an_amendment_supersedes(world):
    v1 = make_version(trial=world.trial, number="1.0")
    assert rows(source_id=str(v1.pk)) == [("02.01.02", "trial", "", None, "current", "1.0")]
    v2 = make_version(trial=world.trial, number="1.1", amendment=1,
                      non_substantial_justification="Sans effet sur la sécurité.")
    assert rows(source_id=str(v2.pk)) == [("02.01.04", "trial", "", None, "current", "1.1")]
    assert rows(source_id=str(v1.pk)) == [("02.01.02", "trial", "", None, "superseded", "1.0")]
    draft = make_version(trial=world.trial, number="2.0", publish=False)
    assert rows(source_id=str(draft.pk)) == []  # unpublished drafts stay out of the TMF


def test_letters_are_filed_at_country_level_by_correspondent_and_type(world):
    v1 = make_version(trial=world.trial, number="1.0")
    opinion = make_opinion(trial=world.trial, version=v1)
    assert rows(source_id=str(opinion.pk)) == [("04.01.02", "country", "FR", None, "current", "")]
    request = make_opinion(trial=world.trial, version=v1, item_type="request_for_information")
    assert rows(source_id=str(request.pk))[0][0] == "04.04.01"
    opinion.unpublish()
    assert rows(source_id=str(opinion.pk)) == [("04.01.02", "country", "FR", None, "withdrawn", "")]


def effective_form(world, sites):
    from consent import services as consent_services

    form = make_form(trial=world.trial)
    consent_services.form_make_effective(actor=world.sponsor, version=form, sites=sites,
                                         effective_from=timezone.now() - datetime.timedelta(days=1))
    return form


def test_consent_forms_are_filed_at_trial_and_at_each_site_where_effective(world):
    form = effective_form(world, [world.site_a])
    consent_rows = rows(source_id=str(form.pk), source_type="consent.consentformversionpage")
    assert ("02.02.03", "trial", "", None, "current", "1.0") in consent_rows
    assert ("02.02.04", "trial", "", None, "current", "1.0") in consent_rows
    assert ("02.02.03", "site", "FR", "DIJ", "current", "1.0") in consent_rows
    assert not [r for r in consent_rows if r[3] == "LIL"]


def trial_status(form, artifact="02.02.03"):
    return TmfDocument.objects.get(source_type="consent.consentformversionpage", source_id=str(form.pk),
                                   artifact__number=artifact, level="trial").status


def test_one_version_of_a_consent_form_is_current_for_the_trial(world):
    """v2.0 in force at DIJ, v3.0 approved: v2.0 current, v3.0 approved not yet in force; v3.0 in force at LIL
    while DIJ still uses v2.0: v3.0 current for the trial, v2.0 superseded there but still current at DIJ."""
    from consent import services as consent_services

    past = timezone.now() - datetime.timedelta(days=10)
    v2 = make_form(trial=world.trial, number="2.0")
    consent_services.form_make_effective(actor=world.sponsor, version=v2, sites=[world.site_a, world.site_b],
                                         effective_from=past)
    v3 = make_form(trial=world.trial, number="3.0")
    english = make_form(trial=world.trial, number="1.0", language="en")  # another document: untouched
    consent_services.form_make_effective(actor=world.sponsor, version=english, sites=[world.site_a],
                                         effective_from=past)
    assert (trial_status(v2), trial_status(v3), trial_status(english)) == ("current", "approved", "current")
    assert trial_status(v3, "02.02.04") == "approved"

    consent_services.form_make_effective(actor=world.sponsor, version=v3, sites=[world.site_b],
                                         effective_from=timezone.now() - datetime.timedelta(minutes=5))
    assert (trial_status(v2), trial_status(v3), trial_status(english)) == ("superseded", "current", "current")
    assert trial_status(v2, "02.02.04") == "superseded"
    assert ("02.02.03", "site", "FR", "DIJ", "current", "2.0") in rows(source_id=str(v2.pk))
    assert ("02.02.03", "site", "FR", "LIL", "current", "3.0") in rows(source_id=str(v3.pk))
    current = TmfDocument.objects.filter(level="trial", artifact__number="02.02.03", status="current",
                                         series="consent-patient-fr")
    assert [d.version for d in current] == ["3.0"]


def test_a_site_specific_version_does_not_supersede_the_version_for_every_site(world):
    from consent import services as consent_services

    past = timezone.now() - datetime.timedelta(days=10)
    general = make_form(trial=world.trial, kind="surrogate", number="1.0")
    consent_services.form_make_effective(actor=world.sponsor, version=general, sites=[world.site_a],
                                         effective_from=past)
    local = make_form(trial=world.trial, kind="surrogate", number="1.1", sites=[world.site_b])
    consent_services.form_make_effective(actor=world.sponsor, version=local, sites=[world.site_b],
                                         effective_from=past)
    assert (trial_status(general), trial_status(local)) == ("current", "current")


def test_a_site_acknowledgement_is_filed_at_the_site(world):
    v1 = make_version(trial=world.trial, number="1.0")
    make_opinion(trial=world.trial, version=v1)
    activation = services.activation_create(actor=world.sponsor, version=v1, site=world.site_a,
                                            effective_from=timezone.now() - datetime.timedelta(days=1))
    services.acknowledgement_create(actor=world.coordinator_a, activation=SiteActivation.objects.get(
        pk=activation.pk))
    ack = activation.acknowledgement
    assert rows(source_type="regulatory.siteacknowledgement", source_id=str(ack.pk)) == [
        ("05.02.02", "site", "FR", "DIJ", "current", "1.0")]


def test_refiling_is_idempotent_and_every_document_has_content(world):
    v1 = make_version(trial=world.trial, number="1.0")
    make_opinion(trial=world.trial, version=v1)
    effective_form(world, [world.site_a, world.site_b])
    before = list(TmfDocument.objects.order_by("pk").values())
    assert filing.refile_trial(world.trial) == len(before)
    assert list(TmfDocument.objects.order_by("pk").values()) == before
    for document in TmfDocument.objects.all():
        data = filing.content(document)
        assert data.data.startswith(b"%PDF-") and data.filename.endswith(".pdf")
        assert "/" not in data.filename


def test_every_filing_is_at_a_level_its_artifact_allows(world):
    v1 = make_version(trial=world.trial, number="1.0")
    make_opinion(trial=world.trial, version=v1)
    effective_form(world, [world.site_a])
    for document in TmfDocument.objects.select_related("artifact"):
        assert getattr(document.artifact, f"{document.level}_level"), document


def test_protocol_page_exists(world):
    assert protocol_of(world.trial)
