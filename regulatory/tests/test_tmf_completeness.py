"""TMF completeness (regulatory/tmf/completeness.py, completeness_views.py): expected artifacts per place against what
is filed, the sponsor's settings, the exports, and a query count that does not grow with the documents."""

import csv
import datetime
import io
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from regulatory import permissions, services
from regulatory.models import AuditEntry, Role, TmfArtifact, TmfDocument, TmfExpectation, TmfLevel
from regulatory.tests.factories import make_grant, make_member, make_opinion, make_site, make_version
from regulatory.tmf import completeness as rules

URL = "/tmf/NCT07063680/completeness/"
SETTINGS = "/tmf/NCT07063680/completeness/settings/"
PROTOCOL, AMENDMENT, SIGNATURE_PAGE = "02.01.02", "02.01.04", "05.02.02"
TMF_PLAN = "01.01.01"  # Recommended, trial level only


def core(**level) -> int:
    return TmfArtifact.objects.filter(is_core=True, **level).count()


def numbers(artifacts) -> set[str]:
    return {artifact.number for artifact in artifacts}


def place(result, label):
    return next(p for p in result.places if p.label == label)


def document(trial, number, *, level=TmfLevel.TRIAL, site=None, status=TmfDocument.Status.CURRENT, title="Doc"):
    country = site.country if site else ("FR" if level == TmfLevel.COUNTRY else "")
    return TmfDocument.objects.create(trial=trial, artifact=TmfArtifact.objects.get(number=number), level=level,
                                      site=site, country=country, title=title, status=status,
                                      document_date=datetime.date(2026, 1, 1))


@pytest.fixture
def inspector_dij(world):
    inspector = make_member("inspector-dij", role=Role.INSPECTOR, trial=world.trial)
    make_grant(inspector=inspector, trial=world.trial, sites=[world.site_a], granted_by=world.sponsor)
    return inspector


def ticks_now(trial) -> list[str]:
    """The boxes the settings page shows ticked."""
    return [f"{s.artifact.number}:{level}" for s in rules.settings_of(trial)
            for level, state in s.levels.items() if state]


# --- Default expectation and figures -------------------------------------------------------------------------

def test_defaults_expect_every_core_artifact_at_each_level_the_model_allows(world):
    result = rules.completeness(world.trial, world.sponsor)
    assert [p.label for p in result.places] == ["NCT07063680", "FR", "DIJ", "LIL"]
    assert result.trial_place.expected == core(trial_level=True) == 156
    assert place(result, "FR").expected == core(country_level=True) == 101
    assert place(result, "DIJ").expected == place(result, "LIL").expected == core(site_level=True) == 95
    assert result.expected == 156 + 101 + 2 * 95
    assert result.filed == 0 and result.percent == Decimal("0.0")
    assert TMF_PLAN not in numbers(result.trial_place.missing)  # recommended, not core


def test_one_country_per_country_of_the_trials_sites(world):
    make_site(trial=world.trial, code="BRU", country="BE")
    result = rules.completeness(world.trial, world.sponsor)
    assert [p.label for p in result.countries] == ["BE", "FR"]
    assert [p.label for p in result.sites] == ["BRU", "DIJ", "LIL"]


def test_filing_the_protocol_raises_the_trial_figure(world):
    make_version(trial=world.trial, number="1.0")
    result = rules.completeness(world.trial, world.sponsor)
    assert result.trial_place.filed == 1
    assert result.trial_place.percent == Decimal(100 / 156).quantize(Decimal("0.1"))  # 0.6
    assert PROTOCOL not in numbers(result.trial_place.missing)
    assert PROTOCOL in numbers(place(result, "DIJ").missing)  # filed at trial level only


def test_a_superseded_protocol_still_counts_as_filed(world):
    make_version(trial=world.trial, number="1.0")
    make_version(trial=world.trial, number="1.1", amendment=1, substantial=False,
                 non_substantial_justification="Typos.")
    assert TmfDocument.objects.get(artifact__number=PROTOCOL).status == TmfDocument.Status.SUPERSEDED
    trial_place = rules.completeness(world.trial, world.sponsor).trial_place
    assert {PROTOCOL, AMENDMENT}.isdisjoint(numbers(trial_place.missing))
    assert trial_place.filed == 2


def test_withdrawn_and_draft_documents_do_not_count(world):
    document(world.trial, PROTOCOL, status=TmfDocument.Status.WITHDRAWN)
    document(world.trial, PROTOCOL, status=TmfDocument.Status.DRAFT)
    trial_place = rules.completeness(world.trial, world.sponsor).trial_place
    assert trial_place.filed == 0 and PROTOCOL in numbers(trial_place.missing)


def test_a_site_acknowledgement_raises_that_sites_figure_only(world):
    version = make_version(trial=world.trial, number="1.0")
    make_opinion(trial=world.trial, version=version, date=datetime.date(2026, 1, 10))
    activation = services.activation_create(actor=world.sponsor, version=version, site=world.site_a,
                                            effective_from=timezone.now() - datetime.timedelta(days=1))
    services.acknowledgement_create(actor=world.coordinator_a, activation=activation)
    result = rules.completeness(world.trial, world.sponsor)
    assert place(result, "DIJ").filed == 1 and SIGNATURE_PAGE not in numbers(place(result, "DIJ").missing)
    assert place(result, "LIL").filed == 0 and SIGNATURE_PAGE in numbers(place(result, "LIL").missing)


def test_an_unexpected_artifact_filed_is_listed_but_not_counted(world):
    document(world.trial, TMF_PLAN)
    trial_place = rules.completeness(world.trial, world.sponsor).trial_place
    assert trial_place.filed == 0
    row = next(r for r in trial_place.rows if r.artifact.number == TMF_PLAN)
    assert (row.expected, row.documents) == (False, 1)


def test_percentages_have_one_decimal():
    assert rules.percentage(1, 3) == Decimal("33.3")
    assert rules.percentage(2, 3) == Decimal("66.7")
    assert rules.percentage(3, 3) == Decimal("100.0")
    assert rules.percentage(0, 0) is None


# --- Overrides ------------------------------------------------------------------------------------------------

def test_overrides_change_what_is_expected(world):
    artifact = TmfArtifact.objects.get
    TmfExpectation.objects.create(trial=world.trial, artifact=artifact(number=PROTOCOL), level=TmfLevel.SITE,
                                  expected=False)
    TmfExpectation.objects.create(trial=world.trial, artifact=artifact(number=TMF_PLAN), level=TmfLevel.TRIAL,
                                  expected=True)
    # A level the Reference Model does not allow stays unexpected whatever a row says.
    TmfExpectation.objects.create(trial=world.trial, artifact=artifact(number=SIGNATURE_PAGE),
                                  level=TmfLevel.TRIAL, expected=True)
    result = rules.completeness(world.trial, world.sponsor)
    assert result.trial_place.expected == 157 and TMF_PLAN in numbers(result.trial_place.missing)
    assert SIGNATURE_PAGE not in numbers(result.trial_place.missing)
    assert place(result, "DIJ").expected == 94 and PROTOCOL not in numbers(place(result, "DIJ").missing)
    assert rules.completeness(world.other_trial, world.other_sponsor).trial_place.expected == 156


# --- Scope ----------------------------------------------------------------------------------------------------

def test_an_inspector_limited_to_dij_sees_only_dijs_site_figures(world, inspector_dij):
    document(world.trial, SIGNATURE_PAGE, level=TmfLevel.SITE, site=world.site_b)
    result = rules.completeness(world.trial, inspector_dij)
    assert [p.label for p in result.sites] == ["DIJ"]
    assert result.expected == 156 + 101 + 95


@pytest.mark.parametrize(("persona", "status"), [("sponsor", 200), ("qa", 200), ("inspector", 200), ("admin", 200),
                                                 ("coordinator_a", 404), ("other_sponsor", 404), ("nobody", 404)])
def test_who_reads_the_completeness_page(world, as_user, persona, status):
    assert as_user(getattr(world, persona)).get(URL).status_code == status


def test_anonymous_is_sent_to_login(world, client):
    response = client.get(URL)
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_the_page_shows_figures_chart_and_missing_links(world, as_user):
    make_version(trial=world.trial, number="1.0")
    page = as_user(world.sponsor).get(URL).content.decode()
    assert '<svg class="chart"' in page and "DIJ" in page and "LIL" in page
    assert "0,6 %" in page  # 1 of 156, French decimal comma
    assert reverse("tmf_artifact", kwargs={"nct": "NCT07063680", "number": SIGNATURE_PAGE}) in page
    assert reverse("tmf_completeness_settings", args=["NCT07063680"]) in page
    assert reverse("tmf_completeness_settings", args=["NCT07063680"]) not in \
        as_user(world.qa).get(URL).content.decode()


def test_the_inspector_limited_to_dij_sees_no_lil_on_the_page(world, as_user, inspector_dij):
    page = as_user(inspector_dij).get(URL).content.decode()
    assert "DIJ" in page and "LIL" not in page


# --- Exports --------------------------------------------------------------------------------------------------

def read_csv(response) -> list[list[str]]:
    assert response["Content-Type"].startswith("text/csv")
    return list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))


def test_csv_export_rows_and_counts(world, as_user):
    make_version(trial=world.trial, number="1.0")
    rows = read_csv(as_user(world.sponsor).get(URL, {"format": "csv"}))
    header, body = rows[0], rows[1:]
    assert len(header) == 8 and header[-1] == "En attente de CQ"
    assert len(body) == 156 + 101 + 2 * 95
    protocol = next(r for r in body if r[2] == PROTOCOL and r[0] == "NCT07063680")
    assert protocol[3] == "Protocol" and protocol[6] == "1"
    assert protocol[4] == protocol[5]  # expected yes, filed yes


def test_csv_export_is_formula_safe(world, as_user):
    TmfArtifact.objects.filter(number=PROTOCOL).update(name='=HYPERLINK("https://evil.example","x")')
    body = read_csv(as_user(world.sponsor).get(URL, {"format": "csv"}))[1:]
    names = {r[3] for r in body if r[2] == PROTOCOL}
    assert names == {"'=HYPERLINK(\"https://evil.example\",\"x\")"}
    assert not any(cell.startswith(("=", "+", "-", "@")) for row in body for cell in row)


def test_csv_export_of_an_inspector_limited_to_dij_has_no_lil_rows(world, as_user, inspector_dij):
    document(world.trial, SIGNATURE_PAGE, level=TmfLevel.SITE, site=world.site_b)
    body = read_csv(as_user(inspector_dij).get(URL, {"format": "csv"}))[1:]
    assert {r[0] for r in body} == {body[0][0], "FR", "DIJ"}
    assert not any("LIL" in cell for row in body for cell in row)


def test_xlsx_export_is_formula_safe(world, as_user):
    openpyxl = pytest.importorskip("openpyxl")
    TmfArtifact.objects.filter(number=PROTOCOL).update(name="=1+1")
    response = as_user(world.sponsor).get(URL, {"format": "xlsx"})
    assert response.status_code == 200
    sheet = openpyxl.load_workbook(io.BytesIO(response.content)).worksheets[0]
    cells = [row for row in sheet.iter_rows(min_row=2) if row[2].value == PROTOCOL]
    # A text cell shown as typed, never a formula; the CSV quote guard is not shown in XLSX (issue 12).
    assert cells and all(row[3].value == "=1+1" and row[3].data_type == "s" for row in cells)


def test_without_openpyxl_only_csv_is_offered(world, as_user, monkeypatch):
    monkeypatch.setattr("regulatory.tmf.completeness_views.XLSX_AVAILABLE", False)
    client = as_user(world.sponsor)
    assert "?format=xlsx" not in client.get(URL).content.decode()
    assert client.get(URL, {"format": "xlsx"}).status_code == 404
    assert client.get(URL, {"format": "csv"}).status_code == 200


def test_an_unknown_format_is_a_404(world, as_user):
    assert as_user(world.sponsor).get(URL, {"format": "pdf"}).status_code == 404


# --- Query count ----------------------------------------------------------------------------------------------

def _fill(world, n):
    """n documents spread over trial, country and both sites, several artifacts and statuses."""
    numbers_ = list(TmfArtifact.objects.filter(is_core=True, trial_level=True, country_level=True,
                                               site_level=True).values_list("number", flat=True)[:10])
    places = [(TmfLevel.TRIAL, None), (TmfLevel.COUNTRY, None), (TmfLevel.SITE, world.site_a),
              (TmfLevel.SITE, world.site_b)]
    statuses = [TmfDocument.Status.CURRENT, TmfDocument.Status.SUPERSEDED, TmfDocument.Status.WITHDRAWN]
    for i in range(n):
        level, site = places[i % len(places)]
        document(world.trial, numbers_[i % len(numbers_)], level=level, site=site, status=statuses[i % 3],
                 title=f"Doc {i}")


def _queries(callable_):
    with CaptureQueriesContext(connection) as captured:
        callable_()
    return len(captured)


def _completeness(trial, user):
    """As inside a request: the user's permissions are read once (`permissions.request_cache`)."""
    with permissions.request_cache():
        return rules.completeness(trial, user)


@pytest.mark.parametrize("persona", ["sponsor", "inspector"])
def test_queries_do_not_grow_with_documents(world, as_user, persona, django_assert_max_num_queries):
    user = getattr(world, persona)
    client = as_user(user)
    _fill(world, 5)
    client.get(URL)  # warm the session and caches
    small = (_queries(lambda: _completeness(world.trial, user)), _queries(lambda: client.get(URL)),
             _queries(lambda: client.get(URL, {"format": "csv"})))
    _fill(world, 195)
    assert TmfDocument.objects.count() == 200
    with django_assert_max_num_queries(small[0]):
        result = _completeness(world.trial, user)
    with django_assert_max_num_queries(small[1]):
        assert client.get(URL).status_code == 200
    with django_assert_max_num_queries(small[2]):
        client.get(URL, {"format": "csv"})
    filed_at_trial = set(TmfDocument.objects.filter(level=TmfLevel.TRIAL, status__in=rules.COUNTED)
                         .values_list("artifact_id", flat=True))
    assert result.trial_place.filed == len(filed_at_trial) > 0
    assert small[0] <= 10, small


# --- Settings -------------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("persona", "status"), [("sponsor", 200), ("admin", 200), ("qa", 404), ("inspector", 404),
                                                 ("coordinator_a", 404), ("other_sponsor", 404)])
def test_who_opens_the_settings(world, as_user, persona, status):
    assert as_user(getattr(world, persona)).get(SETTINGS).status_code == status


@pytest.mark.parametrize("persona", ["qa", "inspector", "coordinator_a", "other_sponsor"])
def test_others_cannot_post_settings(world, as_user, persona):
    response = as_user(getattr(world, persona)).post(SETTINGS, {"expectations-form": "1", "expected": []})
    assert response.status_code in (403, 404)
    assert not TmfExpectation.objects.exists()
    assert not AuditEntry.objects.filter(action="tmf.expectations_changed").exists()


def test_settings_page_preticks_the_current_expectation(world, as_user):
    TmfExpectation.objects.create(trial=world.trial, artifact=TmfArtifact.objects.get(number=TMF_PLAN),
                                  level=TmfLevel.TRIAL, expected=True)
    page = as_user(world.sponsor).get(SETTINGS).content.decode()
    assert page.count('type="checkbox"') == sum(
        a.trial_level + a.country_level + a.site_level for a in TmfArtifact.objects.all())
    assert f'value="{TMF_PLAN}:trial" id="x-{TMF_PLAN}-trial" checked' in page
    assert f'value="{PROTOCOL}:trial" id="x-{PROTOCOL}-trial" checked' in page
    assert f'value="{SIGNATURE_PAGE}:trial"' not in page  # site level only in the Reference Model


def test_saving_writes_only_differences_with_one_audit_entry(world, as_user):
    ticks = ticks_now(world.trial)
    ticks.remove(f"{PROTOCOL}:site")
    ticks.append(f"{TMF_PLAN}:trial")
    response = as_user(world.sponsor).post(SETTINGS, {"expectations-form": "1", "expected": ticks})
    assert response.status_code == 302 and response["Location"] == URL
    assert set(TmfExpectation.objects.values_list("artifact__number", "level", "expected")) == {
        (PROTOCOL, "site", False), (TMF_PLAN, "trial", True)}
    entries = AuditEntry.objects.filter(action="tmf.expectations_changed")
    assert entries.count() == 1
    assert entries.get().changes == {f"{PROTOCOL} site": [True, False], f"{TMF_PLAN} trial": [False, True]}
    assert entries.get().trial_id == world.trial.pk
    result = rules.completeness(world.trial, world.sponsor)
    assert result.trial_place.expected == 157 and place(result, "DIJ").expected == 94


def test_saving_back_to_the_default_updates_the_row_and_deletes_none(world, as_user):
    TmfExpectation.objects.create(trial=world.trial, artifact=TmfArtifact.objects.get(number=PROTOCOL),
                                  level=TmfLevel.SITE, expected=False)
    ticks = [*ticks_now(world.trial), f"{PROTOCOL}:site"]
    as_user(world.sponsor).post(SETTINGS, {"expectations-form": "1", "expected": ticks})
    assert list(TmfExpectation.objects.values_list("artifact__number", "level", "expected")) == [
        (PROTOCOL, "site", True)]
    assert AuditEntry.objects.get(action="tmf.expectations_changed").changes == {f"{PROTOCOL} site": [False, True]}


def test_saving_unchanged_writes_nothing(world, as_user):
    response = as_user(world.sponsor).post(SETTINGS, {"expectations-form": "1", "expected": ticks_now(world.trial)})
    assert response.status_code == 302
    assert not TmfExpectation.objects.exists()
    assert not AuditEntry.objects.filter(action="tmf.expectations_changed").exists()


@pytest.mark.parametrize(("bad", "message"), [
    ("99.99.99:trial", "99.99.99"),
    (f"{SIGNATURE_PAGE}:trial", SIGNATURE_PAGE),  # the Reference Model files it at site level only
    (f"{PROTOCOL}:region", "region"),
    ("nonsense", "nonsense"),
])
def test_invalid_input_writes_nothing(world, as_user, bad, message):
    ticks = [t for t in ticks_now(world.trial) if t != f"{PROTOCOL}:site"] + [bad]
    response = as_user(world.sponsor).post(SETTINGS, {"expectations-form": "1", "expected": ticks})
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not TmfExpectation.objects.exists()
    assert not AuditEntry.objects.filter(action="tmf.expectations_changed").exists()


def test_a_post_without_the_form_marker_writes_nothing(world, as_user):
    response = as_user(world.sponsor).post(SETTINGS, {})
    assert response.status_code == 400
    assert not TmfExpectation.objects.exists()


def test_the_service_refuses_non_sponsors(world):
    from django.core.exceptions import PermissionDenied

    with pytest.raises(PermissionDenied):
        rules.expectations_save(actor=world.qa, trial=world.trial, ticked=set())
    assert not TmfExpectation.objects.exists()
