import datetime
import io

from django.contrib.auth import get_user_model
from django.core.management import call_command
from wagtail.models import Revision

from regulatory.demo_accounts import DEMO_PASSWORD
from regulatory.models import AuditEntry, InvestigationalSite, RoleGroup, TmfDocument, TmfQcIssue, TrialPage
from regulatory.tmf import milestones


def state():
    return (get_user_model().objects.count(), InvestigationalSite.objects.count(), TrialPage.objects.count(),
            RoleGroup.objects.count(), AuditEntry.objects.count(), Revision.objects.count())


def test_load_demo_creates_the_real_trial_from_its_registry_facts(db):
    call_command("load_demo", stdout=io.StringIO())
    trial = TrialPage.objects.get(nct_number="NCT07063680")
    assert trial.sponsor_name == "Centre Hospitalier Universitaire Dijon"
    assert (trial.phase, trial.target_enrolment, trial.org_study_id) == ("PHASE3", 390, "NGUYEN PHRCN 2023")
    assert (trial.start_date, trial.completion_date) == (datetime.date(2026, 1, 31), datetime.date(2028, 9, 30))
    assert trial.title.startswith("Efficacy of Early Argipressin")
    assert [a.arm_type for a in trial.arms.all()] == ["EXPERIMENTAL", "ACTIVE_COMPARATOR"]
    assert "Argipressin 0.4 U/ml" in trial.arms.first().intervention
    dij = trial.sites.get(code="DIJ")
    assert dij.name == "CHU Dijon Bourgogne" and not dij.is_demo
    demo_sites = trial.sites.exclude(code="DIJ")
    assert demo_sites.count() == 2 and all(s.is_demo and "démo" in s.name for s in demo_sites)


def test_load_demo_twice_changes_nothing(db, capsys):
    call_command("load_demo")
    before = state()
    call_command("load_demo")
    assert state() == before
    assert "nothing changed" in capsys.readouterr().out


def test_load_demo_prints_every_login_and_they_all_work(db, client, capsys):
    call_command("load_demo")
    out = capsys.readouterr().out
    usernames = ["sponsor", "sponsor-ra", "qa", "inspector", "admin", "coordinator-dij", "investigator-dij",
                 "nurse-dij", "coordinator-lil", "investigator-lil", "coordinator-ren", "investigator-ren"]
    for username in usernames:
        assert username in out
        assert client.login(username=username, password=DEMO_PASSWORD), username
        client.logout()


def test_load_demo_leaves_a_changed_password_alone(db):
    call_command("load_demo", stdout=io.StringIO())
    user = get_user_model().objects.get(username="sponsor")
    user.set_password("a private new passphrase")
    user.save()
    call_command("load_demo", stdout=io.StringIO())
    user.refresh_from_db()
    assert user.check_password("a private new passphrase")


def test_make_demos_steps_say_what_happened_and_print_the_real_address_last(db, settings, tmp_path, monkeypatch):
    """On a fresh clone the certificates are reported as created, never "kept"; `--no-logins` leaves the logins to
    `demo_logins`, which prints them with the address `make demo` serves on (DEMO_ADDR), last."""
    settings.TRIALDOCS_PKI_DIR = tmp_path / "pki"
    out = io.StringIO()
    call_command("load_demo", "--no-logins", stdout=out)
    text = out.getvalue()
    assert "created demo signing certificate CA" in text and "created demo signing certificate site DIJ" in text
    assert not [line for line in text.splitlines() if "certificate" in line and "created" not in line]
    assert "Demo logins" not in text and "Open http" not in text
    out = io.StringIO()
    call_command("load_demo", "--no-logins", stdout=out)
    assert "certificate" not in out.getvalue()  # nothing new the second time, and nothing said "kept"
    monkeypatch.setenv("DEMO_ADDR", "127.0.0.1:8104")
    out = io.StringIO()
    call_command("demo_logins", stdout=out)
    lines = out.getvalue().strip().splitlines()
    assert lines[-1] == "Open http://127.0.0.1:8104/ (administration: http://127.0.0.1:8104/admin/)"
    assert any(line.split()[:1] == ["coordinator-dij"] for line in lines)
    assert "8000" not in out.getvalue()


def test_the_demos_nurse_is_dij_staff_not_delegated_to_obtain_consent(db):
    """Issue 19's contract: `nurse-dij` (the demo password) is DIJ staff without the consent delegation, while the
    other DIJ staff hold it, each entry signed by DIJ's principal investigator and acknowledged."""
    from regulatory import permissions
    from regulatory.models import DelegationEntry

    call_command("load_demo", "--no-logins")
    users = get_user_model().objects
    dij = InvestigationalSite.objects.get(code="DIJ")
    nurse = users.get(username="nurse-dij")
    assert nurse.check_password(DEMO_PASSWORD) and permissions.is_site_staff(nurse, dij)
    assert not permissions.can_record_consent(nurse, dij)
    assert "Recueillir le consentement éclairé" in permissions.delegation_refusal(nurse, dij, "consent")
    assert permissions.can_register_participant(nurse, dij) and permissions.can_record_withdrawal(nurse, dij)
    for username in ("coordinator-dij", "investigator-dij"):
        assert permissions.can_record_consent(users.get(username=username), dij)
    assert permissions.can_attest_emergency_inclusion(users.get(username="investigator-dij"), dij)
    assert dij.principal_investigator_account.username == "investigator-dij"
    assert not DelegationEntry.objects.filter(acknowledged_at__isnull=True).exists()


# Issue 19, here rather than in test_tmf_qc.py: that module's shared world already holds a DIJ site with its own
# principal investigator, which the demo would then sign with.
def test_the_demo_shows_an_approved_a_rejected_and_a_pending_document_and_a_missing_milestone_document(db):
    call_command("load_demo", "--no-logins", stdout=io.StringIO())
    qc = TmfDocument.objects.filter(source_type="").values_list("title", "qc_status")
    states = {status for _title, status in qc}
    assert states == {"approved", "rejected", "pending"}
    issue = TmfQcIssue.objects.get()
    assert issue.category == "missing_signature" and issue.closed_at is None
    assert issue.document.filed_by.username == "sponsor" and issue.raised_by.username == "tmf-qc"
    from django.contrib.auth import get_user_model

    trial = TrialPage.objects.get(nct_number="NCT07063680")
    statuses = milestones.milestones_for(get_user_model().objects.get(username="sponsor"), trial)
    dij = next(s for s in statuses if s.milestone.site and s.milestone.site.code == "DIJ")
    assert [a.number for a in dij.missing] == ["05.02.12"]
    call_command("load_demo", "--no-logins", stdout=io.StringIO())  # again: nothing more
    assert TmfQcIssue.objects.count() == 1 and TmfDocument.objects.filter(source_type="").count() == 3
