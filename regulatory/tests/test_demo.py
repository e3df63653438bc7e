import datetime
import io

from django.contrib.auth import get_user_model
from django.core.management import call_command
from wagtail.models import Revision

from regulatory.demo_accounts import DEMO_PASSWORD
from regulatory.models import AuditEntry, InvestigationalSite, RoleGroup, TrialPage


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
    usernames = ["sponsor", "inspector", "admin", "coordinator-dij", "investigator-dij",
                 "coordinator-lil", "investigator-lil", "coordinator-ren", "investigator-ren"]
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
