"""Audit entries scoped to their trial, Wagtail's log mirrored into the chain, and the audit viewer with its CSV
export (21 CFR 11.10(e))."""

import csv
import datetime
import io

import pytest
from django.utils import timezone
from wagtail.log_actions import log

from regulatory import audit
from regulatory.models import AuditEntry, ProtocolPage, SiteActivation
from regulatory.tests.factories import make_user

AUDIT = "/audit/"


def entries_for(obj):
    return AuditEntry.objects.for_object(obj)


def listed(response) -> list[AuditEntry]:
    assert response.status_code == 200
    return [row["entry"] for row in response.context["rows"]]


def csv_rows(response) -> list[list[str]]:
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    raw = b"".join(response.streaming_content)
    assert raw.startswith(b"\xef\xbb\xbf")
    return list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))


# --- The trial of an entry --------------------------------------------------------------------------

def test_entries_about_trials_sites_and_pages_carry_their_trial(world):
    assert entries_for(world.trial).get(action="trial.created").trial_id == world.trial.pk
    assert entries_for(world.site_a).get(action="site.created").trial_id == world.trial.pk
    assert entries_for(world.other_site).get(action="site.created").trial_id == world.other_trial.pk
    protocol = ProtocolPage.objects.child_of(world.trial).get()
    assert entries_for(protocol).exists()
    assert {e.trial_id for e in entries_for(protocol)} == {world.trial.pk}
    # A permission given to a role group of the trial: through the group's role.
    granted = AuditEntry.objects.filter(action="permission.granted", changes__on=[None, str(world.site_b)])
    assert granted.exists() and {e.trial_id for e in granted} == {world.trial.pk}


def test_entries_outside_any_trial_have_none(world):
    entry = audit.record(actor=world.nobody, action="auth.login", obj=world.nobody, object_repr="nobody")
    assert entry.trial_id is None
    assert audit.record(actor=None, action="test.nothing").trial_id is None


def test_trial_found_through_site_participant_and_explicit_keyword(world):
    from consent.models import ConsentRecord, Participant

    assert audit.trial_of(SiteActivation(site=world.site_b)) == world.trial.pk
    participant = Participant(site=world.other_site, number=1, code="BOR-0001")
    assert audit.trial_of(participant) == world.other_trial.pk
    assert audit.trial_of(ConsentRecord(participant=participant)) == world.other_trial.pk
    entry = audit.record(actor=None, action="test.explicit", obj=world.nobody, trial=world.other_trial)
    assert entry.trial_id == world.other_trial.pk


def test_trial_is_hashed_only_when_set_and_the_chain_holds(world):
    without = AuditEntry.objects.filter(trial__isnull=True).first()
    with_trial = AuditEntry.objects.filter(trial__isnull=False).first()
    assert '"trial"' not in without.chained_content()
    assert f'"trial":{with_trial.trial_id}' in with_trial.chained_content()
    assert audit.verify_chain() is None


# --- Wagtail's log mirrored ---------------------------------------------------------------------------

def test_a_wagtail_publication_is_mirrored_into_the_chain(world):
    revision = world.trial.save_revision(user=world.sponsor)
    revision.publish(user=world.sponsor)
    entry = AuditEntry.objects.get(action="wagtail.publish", object_id=str(world.trial.pk))
    assert entry.actor == world.sponsor and entry.actor_label == "sponsor"
    assert entry.object_type == "regulatory.trialpage" and entry.trial_id == world.trial.pk
    assert entry.changes["revision_id"] == revision.pk and "data" in entry.changes
    assert audit.verify_chain() is None


def test_a_wagtail_model_log_entry_is_mirrored_with_its_object_and_data(world):
    log(instance=world.other_site, action="wagtail.edit", user=world.other_sponsor, data={"note": "x"})
    entry = AuditEntry.objects.get(action="wagtail.edit")
    assert (entry.object_type, entry.object_id) == ("regulatory.investigationalsite", str(world.other_site.pk))
    assert entry.trial_id == world.other_trial.pk and entry.actor == world.other_sponsor
    assert entry.changes["data"] == {"note": "x"}
    assert audit.verify_chain() is None


# --- Who sees what ----------------------------------------------------------------------------------

def test_anonymous_is_sent_to_login(world, client):
    response = client.get(AUDIT)
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/?next=/audit/")


@pytest.mark.parametrize("persona", ["coordinator_a", "investigator_a", "nobody"])
@pytest.mark.parametrize("url", [AUDIT, f"{AUDIT}?format=csv", f"{AUDIT}user/1/",
                                 f"{AUDIT}object/regulatory.trialpage/1/"])
def test_site_staff_and_users_without_a_trial_wide_role_get_404(world, as_user, persona, url):
    assert as_user(getattr(world, persona)).get(url).status_code == 404


def test_sponsor_sees_only_entries_of_their_trial(world, as_user):
    client = as_user(world.sponsor)
    shown = listed(client.get(AUDIT))
    assert shown and {e.trial_id for e in shown} == {world.trial.pk}
    exported = csv_rows(client.get(AUDIT, {"format": "csv"}))
    trial_column = exported[0].index("Essai")
    assert len(exported) - 1 == AuditEntry.objects.filter(trial=world.trial).count()
    assert {row[trial_column] for row in exported[1:]} == {"NCT07063680"}


def test_sponsor_of_the_other_trial_sees_none_of_this_trials_entries(world, as_user):
    client = as_user(world.other_sponsor)
    assert world.trial.pk not in {e.trial_id for e in listed(client.get(AUDIT))}
    # Neither through a filter, the per-object or per-user views, nor the export.
    assert listed(client.get(AUDIT, {"trial": world.trial.pk})) == []
    assert listed(client.get(AUDIT, {"object_type": "regulatory.trialpage", "object_id": world.trial.pk})) == []
    assert listed(client.get(f"{AUDIT}object/regulatory.trialpage/{world.trial.pk}/")) == []
    assert listed(client.get(f"{AUDIT}object/regulatory.investigationalsite/{world.site_a.pk}/")) == []
    rows = csv_rows(client.get(AUDIT, {"format": "csv"}))
    assert "NCT07063680" not in {cell for row in rows[1:] for cell in row}
    assert len(rows) - 1 == AuditEntry.objects.filter(trial=world.other_trial).count()


def test_sponsor_never_sees_entries_without_a_trial(world, as_user):
    audit.record(actor=world.sponsor, action="auth.login", obj=world.sponsor, object_repr="sponsor")
    assert listed(as_user(world.sponsor).get(f"{AUDIT}user/{world.sponsor.pk}/")) == []


def test_quality_assurance_reads_the_trial_entries(world, as_user):
    shown = listed(as_user(world.qa).get(AUDIT))
    assert shown and {e.trial_id for e in shown} == {world.trial.pk}


def test_administrator_sees_everything_newest_first_fifty_per_page(world, as_user):
    audit.record(actor=world.nobody, action="auth.login", obj=world.nobody, object_repr="nobody")
    client = as_user(world.admin)
    first = listed(client.get(AUDIT))
    assert len(first) == 50 and AuditEntry.objects.count() > 50
    assert [e.sequence for e in first] == sorted((e.sequence for e in first), reverse=True)
    assert first[0].sequence == AuditEntry.objects.order_by("-sequence").first().sequence
    assert first[0].trial_id is None  # the login above: entries outside any trial too
    second = listed(client.get(AUDIT, {"page": 2}))
    assert second and second[0].sequence == first[-1].sequence - 1
    assert len(csv_rows(client.get(AUDIT, {"format": "csv"}))) - 1 == AuditEntry.objects.count()


def test_viewing_is_get_only(world, as_user):
    assert as_user(world.admin).post(AUDIT).status_code == 405


def test_page_is_in_french_with_paris_times(world, as_user):
    entry = audit.record(actor=world.sponsor, action="test.time", obj=world.site_a)
    body = as_user(world.sponsor).get(AUDIT).content.decode()
    assert "Journal d&#x27;audit" in body or "Journal d'audit" in body
    paris = timezone.localtime(entry.timestamp, timezone.get_current_timezone())
    assert paris.strftime("%Y-%m-%d %H:%M:%S") in body


def test_actions_and_people_read_in_words(world, as_user):
    """"Participant enregistré" by "Coordinator-A Test", not `participant.created` by `coordinator-a`; Wagtail's
    codes in Wagtail's words; the code stays beside the words (and in the CSV), and an unknown code reads as it is."""
    import re

    from regulatory.audit_labels import ACTIONS, action_label

    audit.record(actor=world.coordinator_a, action="participant.created", obj=world.site_a)
    audit.record(actor=world.sponsor, action="consentformversion.changed", obj=world.site_a)
    revision = world.trial.save_revision(user=world.sponsor)
    revision.publish(user=world.sponsor)
    audit.record(actor=world.sponsor, action="test.unknown_code", obj=world.site_a)
    client = as_user(world.sponsor)
    rows = {row["entry"].action: row for row in client.get(AUDIT).context["rows"]}
    assert rows["participant.created"]["action"] == "Participant enregistré"
    assert rows["participant.created"]["person"] == world.coordinator_a.get_full_name() != "coordinator-a"
    assert rows["consentformversion.changed"]["action"] == "Version de formulaire de consentement modifiée"
    assert rows["wagtail.publish"]["action"] == "Administration : Publier"
    assert rows["test.unknown_code"]["action"] == "test.unknown_code"
    body = client.get(AUDIT).content.decode()
    assert world.coordinator_a.get_full_name() in body and re.search(r"Participant enregistr", body)
    client.post("/i18n/setlang/", {"language": "en", "next": "/"})
    english = {row["entry"].action: row["action"] for row in client.get(AUDIT).context["rows"]}
    assert english["participant.created"] == "Participant registered"
    assert english["wagtail.publish"] == "Administration: Publish"
    assert [code for code in ACTIONS if action_label(code) == code] == []


def test_every_action_the_code_records_reads_in_words():
    """Each `action="…"` the project writes (outside tests), and each page edit code, has its words."""
    import re
    from pathlib import Path

    from regulatory.audit_labels import PAGE_KINDS, PAGE_VERBS, action_label

    root = Path(__file__).resolve().parents[2]
    codes = set()
    for path in [*root.glob("regulatory/**/*.py"), *root.glob("consent/**/*.py"), *root.glob("cms/**/*.py")]:
        if "tests" in path.parts or "migrations" in path.parts:
            continue
        codes |= set(re.findall(r'action="([a-z_]+\.[a-z_.]+)"', path.read_text()))
    codes |= {f"{kind}.{verb}" for kind in PAGE_KINDS for verb in PAGE_VERBS}
    assert len(codes) > 40
    assert sorted(code for code in codes if action_label(code) == code) == []


# --- Per object, per user ---------------------------------------------------------------------------

def test_per_object_view_lists_that_object_only(world, as_user):
    audit.record(actor=world.sponsor, action="test.site", obj=world.site_a)
    shown = listed(as_user(world.sponsor).get(f"{AUDIT}object/regulatory.investigationalsite/{world.site_a.pk}/"))
    assert {(e.object_type, e.object_id) for e in shown} == {("regulatory.investigationalsite", str(world.site_a.pk))}
    assert {"site.created", "test.site"} <= {e.action for e in shown}


def test_per_user_view_lists_that_actor_only(world, as_user):
    audit.record(actor=world.sponsor, action="test.by_sponsor", obj=world.site_a)
    audit.record(actor=world.qa, action="test.by_qa", obj=world.site_a)
    response = as_user(world.qa).get(f"{AUDIT}user/{world.sponsor.pk}/")
    shown = listed(response)
    assert [e.action for e in shown] == ["test.by_sponsor"]
    assert "sponsor" in response.context["title"]


# --- Filters ----------------------------------------------------------------------------------------

def test_filters_by_trial_action_actor_and_object(world, as_user):
    audit.record(actor=world.sponsor, action="test.filtered", obj=world.site_b)
    client = as_user(world.admin)
    by_trial = listed(client.get(AUDIT, {"trial": world.other_trial.pk}))
    assert by_trial and {e.trial_id for e in by_trial} == {world.other_trial.pk}
    by_action = listed(client.get(AUDIT, {"action": "site."}))
    assert by_action and all(e.action.startswith("site.") for e in by_action)
    by_actor = listed(client.get(AUDIT, {"actor": world.sponsor.pk}))
    assert [e.action for e in by_actor] == ["test.filtered"]
    by_object = listed(client.get(AUDIT, {"object_type": "regulatory.investigationalsite",
                                          "object_id": world.site_b.pk, "action": "test."}))
    assert [e.action for e in by_object] == ["test.filtered"]


def test_filters_by_date_in_paris_time(world, as_user):
    client = as_user(world.sponsor)
    today = timezone.localdate()
    assert listed(client.get(AUDIT, {"date_from": today.isoformat(), "date_to": today.isoformat()}))
    assert listed(client.get(AUDIT, {"date_from": (today + datetime.timedelta(days=1)).isoformat()})) == []
    assert listed(client.get(AUDIT, {"date_to": (today - datetime.timedelta(days=1)).isoformat()})) == []


def test_an_invalid_filter_shows_nothing_rather_than_everything(world, as_user):
    client = as_user(world.sponsor)
    response = client.get(AUDIT, {"actor": "not-a-number"})
    assert listed(response) == [] and response.context["form"].errors
    assert len(csv_rows(client.get(AUDIT, {"actor": "x", "format": "csv"}))) == 1  # the header only


# --- CSV --------------------------------------------------------------------------------------------

def test_csv_export_defuses_formulas_and_keeps_accents(world, as_user):
    at_user = make_user("@x")
    hostile = '=HYPERLINK("http://evil.example/","clic")'
    entries = [
        audit.record(actor=world.sponsor, action="test.csv", obj=world.site_a, object_repr=hostile, reason="+1"),
        audit.record(actor=at_user, action="test.csv", obj=world.site_a, object_repr="Hôpital-é", reason="-1",
                     trial=world.trial),
    ]
    rows = csv_rows(as_user(world.sponsor).get(AUDIT, {"action": "test.csv", "format": "csv"}))
    header, body = rows[0], rows[1:]
    assert len(body) == 2
    cells = {cell for row in body for cell in row}
    assert "'" + hostile in cells and hostile not in cells
    assert {"'+1", "'-1", "'@x", "Hôpital-é"} <= cells
    assert not any(cell.startswith(("=", "+", "-", "@", "\t", "\r")) for row in rows for cell in row)
    # Newest first, with the sequence and the entry hash of each.
    assert [row[0] for row in body] == [str(entries[1].sequence), str(entries[0].sequence)]
    assert {entries[0].entry_hash, entries[1].entry_hash} <= cells
    assert len(header) == len(body[0])


def test_csv_cell_rule():
    from regulatory.audit_views import csv_cell

    assert [csv_cell(v) for v in ("=1+1", "+1", "-1", "@x", "\tx", "\rx", "ok", None, 12)] == [
        "'=1+1", "'+1", "'-1", "'@x", "'\tx", "'\rx", "ok", "", "12"]
