"""The principal investigator's delegation log (issue 19): entries signed by the principal investigator (both
components, 21 CFR 11.50 manifestation), acknowledged by the staff member, printed as a signed PDF filed in the ISF
and the TMF (05.02.18); and enforced: what site staff record is decided by the log on the day it is done
(`regulatory.permissions.delegation_refusal`). Bad input: a clear message, nothing written."""

import datetime
import io
import zipfile

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone, translation

from consent import isf, services
from consent.models import ConsentRecord, Participant
from consent.pki import ensure_identities
from consent.tests.factories import make_form
from consent.tests.test_records import record
from consent.verification import verify_pdf
from regulatory import permissions
from regulatory import services as regulatory_services
from regulatory.models import (
    AuditEntry,
    DelegationEntry,
    DelegationLogPrint,
    TmfArtifact,
    TmfDocument,
    TrialPage,
)
from regulatory.tests.factories import PASSWORD, delegate, make_member, make_nurse, make_opinion, make_version
from tests.sharing import shared_fixture

TODAY = datetime.date.today()


@pytest.fixture(autouse=True)
def english():
    with translation.override("en"):
        yield


@pytest.fixture
def nurse(world):
    return make_nurse(world.site_a)


@shared_fixture
def forms(world):
    ensure_identities(sponsor_name=world.trial.sponsor_name, site_codes=["DIJ", "LIL"])
    start = timezone.now() - datetime.timedelta(days=40)
    made = {}
    for kind in ("patient", "emergency"):
        made[kind] = make_form(trial=world.trial, kind=kind)
        services.form_make_effective(actor=world.sponsor, version=made[kind], sites=[world.site_a, world.site_b],
                                     effective_from=start)
    return made


def counts():
    return (DelegationEntry.objects.count(), DelegationLogPrint.objects.count(), ConsentRecord.objects.count(),
            Participant.objects.count(), TmfDocument.objects.count(),
            AuditEntry.objects.exclude(action__startswith="auth.").exclude(action__startswith="login").count())


def sign(world, *, staff, actor=None, tasks=("consent",), start=TODAY, end=None, password=PASSWORD,
         username=None):
    actor = actor or world.investigator_a
    return services.delegation_entry_create(
        actor=actor, site=world.site_a, staff=staff, tasks=list(tasks), start_date=start,
        end_date=end, username=actor.get_username() if username is None else username, password=password)


def test_the_principal_investigator_signs_an_entry_the_log_prints_signed_and_is_filed(world, forms, nurse):
    entry = sign(world, staff=nurse, tasks=["consent", "death"], start=TODAY - datetime.timedelta(days=3))
    # 21 CFR 11.50: printed name, date and time, meaning
    assert entry.signed_by == world.investigator_a and entry.signer_name == world.investigator_a.get_full_name()
    assert entry.meaning.startswith(f"Délégation signée par {world.investigator_a.get_full_name()}, investigateur "
                                    f"principal de DIJ, le {timezone.localtime(entry.signed_at):%d/%m/%Y} à ")
    assert AuditEntry.objects.filter(action="delegation.signed", object_id=str(entry.pk)).exists()
    log = DelegationLogPrint.objects.get(site=world.site_a)
    data = log.file.open("rb").read()
    log.file.close()
    report = verify_pdf(data)
    assert report.valid, report.problems
    assert report.reason == "Registre de délégation DIJ, version 1"
    filed = TmfDocument.objects.get(source_type="regulatory.delegationlogprint", source_id=str(log.pk))
    assert filed.artifact.number == "05.02.18" and filed.site == world.site_a and filed.status == "current"
    # Not yet acknowledged: not in effect.
    assert "awaits their acknowledgement" in permissions.delegation_refusal(nurse, world.site_a, "death")
    # The staff member acknowledges, signing too: a new version of the log, the previous one superseded.
    with pytest.raises(ValidationError, match="Only the staff member named"):
        services.delegation_acknowledge(actor=world.coordinator_a, entry=entry, username="coordinator-a",
                                        password=PASSWORD)
    entry = services.delegation_acknowledge(actor=nurse, entry=entry, username="nurse-a", password=PASSWORD)
    assert entry.acknowledgement_meaning.startswith("Prise de connaissance signée par Nurse-A Test le ")
    assert permissions.can_record_death(nurse, world.site_a)
    assert list(TmfDocument.objects.filter(artifact__number="05.02.18", site=world.site_a)
                .order_by("version").values_list("version", "status")) == [("1", "superseded"), ("2", "current")]
    # The ISF holds it, under "Delegation log".
    binder = isf.binder(world.site_a)
    assert [d.version for d in binder.sections[0].documents] == ["2", "1"]


BAD_ENTRIES = {
    "not the PI": "Only the principal investigator of DIJ (Investigator-A Test) signs its delegation log",
    "wrong password": "Your user name or password is not correct: the delegation was not recorded.",
    "another user name": "Your user name or password is not correct: the delegation was not recorded.",
    "end before start": "The delegation ends (01/01/2026) before it starts (02/01/2026). Nothing was recorded.",
    "no task": "Choose at least one task among those listed.",
    "unknown task": "Choose at least one task among those listed.",
    "emergency to a coordinator": "Only an investigator of the site can be delegated the attestation",
    "not staff of the site": "Choose a member of the staff of DIJ.",
}


@pytest.mark.parametrize("case", list(BAD_ENTRIES))
def test_bad_entries_are_refused_with_their_reason_and_nothing_is_written(world, forms, nurse, case):
    message = BAD_ENTRIES[case]
    kwargs = {
        "not the PI": {"actor": world.coordinator_a},
        "wrong password": {"password": "wrong"},
        "another user name": {"username": "coordinator-a"},
        "end before start": {"start": datetime.date(2026, 1, 2), "end": datetime.date(2026, 1, 1)},
        "no task": {"tasks": []},
        "unknown task": {"tasks": ["consent", "sign-cheques"]},
        "emergency to a coordinator": {"tasks": ["emergency"]},
        "not staff of the site": {"staff": world.coordinator_b},
    }[case]
    before = counts()
    with pytest.raises(ValidationError) as raised:
        sign(world, **{"staff": nurse, **kwargs})
    assert any(message in text for text in raised.value.messages), raised.value.messages
    after = counts()
    assert after[:5] == before[:5]
    if case not in ("wrong password", "another user name"):  # a failed signature is audited as a failed login
        assert after == before


def test_the_log_is_enforced_on_the_signing_date_of_a_consent(world, forms, nurse):
    """nurse-a holds "register" and "withdrawal" only: no consent, no death; given "obtain informed consent" from
    10 to 20 days ago, a consent signed within those dates is recorded, one signed after (or before) is refused
    with the reason, and nothing is written."""
    participant = services.participant_create(actor=nurse, site=world.site_a)  # "register": delegated
    before = counts()
    with pytest.raises(ValidationError) as raised:
        record(world, participant, forms["patient"], actor=nurse)
    assert raised.value.messages == [
        "Nurse-A Test is not on the delegation log of DIJ for the task “Obtain informed consent”: only the principal "
        "investigator can delegate it. Nothing was recorded."]
    assert counts() == before
    with pytest.raises(ValidationError, match="not on the delegation log of DIJ for the task “Record deaths”"):
        services.participant_record_death(actor=nurse, participant=participant, died_at=timezone.now())

    delegate(site=world.site_a, staff=nurse, tasks=["consent"], start_date=TODAY - datetime.timedelta(days=20),
             end_date=TODAY - datetime.timedelta(days=10))
    before = counts()
    with pytest.raises(ValidationError) as raised:
        record(world, participant, forms["patient"], actor=nurse)  # signed an hour ago: after the end
    ended = TODAY - datetime.timedelta(days=10)
    since = ended + datetime.timedelta(days=1)
    signed_on = timezone.localdate(timezone.now() - datetime.timedelta(hours=1))  # in Paris: not always TODAY (UTC)
    assert raised.value.messages == [
        f"Nurse-A Test has not been on the delegation log of DIJ for the task “Obtain informed consent” since "
        f"{since:%d/%m/%Y} (the delegation ended on {ended:%d/%m/%Y}), so not on {signed_on:%d/%m/%Y}. Nothing "
        f"was recorded."]
    assert counts() == before
    with pytest.raises(ValidationError, match=r"only from .*, not on"):
        record(world, participant, forms["patient"], actor=nurse,
               signed_at=timezone.now() - datetime.timedelta(days=30))
    assert counts() == before
    # Within the dates (a consent signed on paper 15 days ago): recorded.
    recorded = record(world, participant, forms["patient"], actor=nurse,
                      signed_at=timezone.now() - datetime.timedelta(days=15))
    assert recorded.obtained_by == nurse


def test_emergency_attestation_needs_its_own_delegation(world, forms):
    other = make_member("investigator-a2", role="investigator", trial=world.trial, site=world.site_a)
    delegate(site=world.site_a, staff=other, tasks=["consent", "register"])
    participant = services.participant_create(actor=other, site=world.site_a)
    with pytest.raises(ValidationError, match="“Attest an emergency inclusion”"):
        record(world, participant, forms["emergency"], actor=other)
    assert not ConsentRecord.objects.exists()
    assert record(world, participant, forms["emergency"], actor=world.investigator_a).kind == "emergency"


def test_where_the_sponsor_asks_the_delegation_waits_for_the_protocol_acknowledgement(world, forms):
    TrialPage.objects.filter(pk=world.trial.pk).update(delegation_requires_training=True)
    version = make_version(trial=world.trial, number="1.0")
    make_opinion(trial=world.trial, version=version)
    activation = regulatory_services.activation_create(
        actor=world.sponsor, version=version, site=world.site_a,
        effective_from=timezone.now() - datetime.timedelta(days=2))
    refusal = permissions.delegation_refusal(world.coordinator_a, world.site_a, "consent")
    assert refusal == ("The delegation of the task “Obtain informed consent” to Coordinator-A Test takes effect "
                       "once DIJ has acknowledged the protocol version in force, Protocol v1.0 (the sponsor requires "
                       "it). Nothing was recorded.")
    regulatory_services.acknowledgement_create(actor=world.coordinator_a, activation=activation)
    assert permissions.can_record_consent(world.coordinator_a, world.site_a)
    TrialPage.objects.filter(pk=world.trial.pk).update(delegation_requires_training=False)


def test_the_isf_holds_the_sites_documents_and_records_and_exports_formula_safe(world, forms, client):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from regulatory.models import Role
    from regulatory.tests.factories import make_member
    from regulatory.tmf import qc as tmf_qc
    from regulatory.tmf import uploads as tmf_filing

    participant = services.participant_create(actor=world.coordinator_a, site=world.site_a)
    record(world, participant, forms["patient"], actor=world.coordinator_a)
    letter = tmf_filing.file_upload(
        actor=world.sponsor, trial=world.trial, artifact=TmfArtifact.objects.get(number="05.04.03"), level="site",
        site=world.site_a, country="", title="=HYPERLINK(\"http://x\") lettre de visite", version="1",
        document_date=datetime.date(2026, 2, 1), status=TmfDocument.Status.CURRENT,
        file=SimpleUploadedFile("lettre.pdf", b"%PDF-1.4\n%%EOF\n", content_type="application/pdf"))
    services.print_log(site=world.site_a)
    assert letter not in isf.documents(world.site_a)  # pending QC: not in the site's binder yet
    tmf_qc.qc_approve(actor=make_member("tmf-qc", role=Role.TMF_QC, trial=world.trial), document=letter)
    binder = isf.binder(world.site_a)
    headings = {section.heading: [d.artifact.number for d in section.documents] for section in binder.sections}
    assert headings["Delegation log"] == ["05.02.18"]
    assert headings["Monitoring-visit letters"] == ["05.04.03"]
    assert "02.02.03" in headings["Consent forms"]
    assert [r.participant.code for r in binder.records] == [participant.code]
    client.force_login(world.coordinator_a)
    response = client.get("/nct07063680/sites/dij/isf/export/")
    assert response.status_code == 200
    package = zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content)))
    index = package.read("index.csv").decode("utf-8-sig")
    assert "'=HYPERLINK" in index and ",=HYPERLINK" not in index
    assert any(name.endswith(".pdf") and "consent-records/DIJ-0001/" in name for name in package.namelist())
    assert AuditEntry.objects.filter(action="isf.exported").exists()
    page = client.get("/nct07063680/sites/dij/isf/").content.decode()
    assert "05.02.18" in page and "05.04.03" in page and participant.code in page
    client.force_login(world.sponsor)  # the consent records stay at the site
    assert client.get("/nct07063680/sites/dij/isf/").status_code == 404
