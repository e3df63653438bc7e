"""Builders for tests: trials, sites and users made through the real services, so roles and audit are real."""

import datetime
import itertools

from django.contrib.auth import get_user_model

from cms.models import HomePage
from regulatory import services
from regulatory.models import InvestigationalSite, TrialPage

_numbers = itertools.count(1)
PASSWORD = "correct horse battery staple"


def ensure_home() -> HomePage:
    """The home page from the `cms` data migration, rebuilt when a transactional test has flushed the database."""
    home = HomePage.objects.first()
    if home is not None:
        return home
    from django.conf import settings
    from wagtail.models import Collection, Locale, Page, Site

    Locale.objects.get_or_create(language_code=settings.LANGUAGE_CODE)
    if Collection.get_first_root_node() is None:
        Collection.add_root(name="Root")
    root = Page.get_first_root_node() or Page.add_root(instance=Page(title="Root", slug="root"))
    home = root.add_child(instance=HomePage(title="TrialDocs", slug="home"))
    Site.objects.create(hostname="localhost", port=80, root_page=home, is_default_site=True, site_name="TrialDocs")
    return home


def make_trial(*, nct_number: str | None = None, **overrides) -> TrialPage:
    n = next(_numbers)
    nct_number = nct_number or f"NCT{90000000 + n:08d}"
    fields = {
        "title": f"Test trial {n}", "slug": nct_number.lower(), "nct_number": nct_number,
        "sponsor_name": "CHU Test", "phase": "PHASE3", "target_enrolment": 100,
        "start_date": datetime.date(2026, 1, 1), "completion_date": datetime.date(2027, 1, 1),
    }
    fields.update(overrides)
    return services.trial_create(actor=None, parent=ensure_home(), **fields)


def make_site(*, trial: TrialPage, code: str, **overrides) -> InvestigationalSite:
    fields = {"name": f"Hôpital {code}", "city": f"Ville {code}", "principal_investigator": f"Dr {code}",
              "status": "ACTIVE", "activation_date": datetime.date(2026, 2, 1)}
    fields.update(overrides)
    return services.site_create(actor=None, trial=trial, code=code, **fields)


def make_user(username: str, *, superuser: bool = False, **fields):
    fields.setdefault("email", f"{username}@example.org")
    user = get_user_model().objects.create_user(
        username=username, password=PASSWORD, first_name=fields.pop("first_name", username.title()),
        last_name=fields.pop("last_name", "Test"), is_superuser=superuser, is_staff=superuser, **fields,
    )
    return user


def make_member(username: str, *, role: str, trial: TrialPage, site: InvestigationalSite | None = None):
    user = make_user(username)
    services.role_grant(actor=None, user=user, role=role, trial=trial, site=site)
    return user


def protocol_of(trial: TrialPage):
    from regulatory.models import ProtocolPage

    return ProtocolPage.objects.child_of(trial).get()


def make_version(*, trial: TrialPage, number: str, publish: bool = True, amendment: int | None = None,
                 substantial: bool = False, **fields):
    fields.setdefault("title", f"Protocol v{number}")
    fields.setdefault("version_date", datetime.date(2026, 1, 1))
    return services.protocol_version_create(
        actor=None, protocol=protocol_of(trial), publish=publish, version_number=number,
        amendment_number=amendment, substantial=substantial, **fields)


def make_opinion(*, trial: TrialPage, version, date=datetime.date(2026, 1, 15), item_type="favourable_opinion"):
    """A published letter of that type (favourable opinion by default) linked to `version`."""
    from regulatory.models import CorrespondenceIndexPage

    index = CorrespondenceIndexPage.objects.child_of(trial).get()
    submission = services.submission_create(actor=None, index=index, title=f"Submission {version.version_number} "
                                            f"{item_type} {date}", correspondent="ethics_committee",
                                            correspondent_name="CPP Test")
    return services.correspondence_item_create(
        actor=None, submission=submission, title=f"{item_type} {version.version_number}", direction="received",
        date=date, item_type=item_type, correspondent="CPP Test", concerns=[version])


def make_grant(*, inspector, trial: TrialPage, sites=(), starts_at=None, ends_at=None, granted_by=None):
    """An inspection window, open from an hour ago for a week unless told otherwise (written directly, so a
    window in the past can be made too)."""
    from django.utils import timezone

    from regulatory.models import InspectorGrant

    now = timezone.now()
    grant = InspectorGrant.objects.create(
        inspector=inspector, trial=trial, starts_at=starts_at or now - datetime.timedelta(hours=1),
        ends_at=ends_at or now + datetime.timedelta(days=7),
        granted_by=granted_by or make_user(f"granter-{InspectorGrant.objects.count()}"))
    grant.sites.set(sites)
    return grant


def delegate(*, site: InvestigationalSite, staff, tasks=None, start_date=datetime.date(2020, 1, 1), end_date=None,
             signed_by=None, acknowledged: bool = True):
    """A delegation-log entry as the principal investigator signs it and the staff member acknowledges it (the
    signatures themselves are tested in consent/tests/test_delegation.py through the real service). `tasks`:
    every task (the emergency attestation only for an investigator of the site) when not given."""
    from django.utils import timezone

    from regulatory import permissions
    from regulatory.models import DelegatedTask, DelegationEntry

    investigators = permissions.site_investigators(site)
    if tasks is None:
        tasks = [t for t in DelegatedTask.values
                 if t != DelegatedTask.EMERGENCY or investigators.filter(pk=staff.pk).exists()]
    signer = signed_by or site.principal_investigator_account or investigators.first() or staff
    now = timezone.now()
    name = staff.get_full_name() or staff.get_username()
    return DelegationEntry.objects.create(
        site=site, staff=staff, staff_name=name, tasks=list(tasks), start_date=start_date, end_date=end_date,
        signed_by=signer, signer_name=signer.get_full_name(), signed_at=now,
        meaning=f"Délégation signée par {signer.get_full_name()}, investigateur principal de {site.code}",
        acknowledged_at=now if acknowledged else None,
        acknowledgement_meaning=f"Prise de connaissance signée par {name}" if acknowledged else "")


def make_staff(username: str, *, role: str, site: InvestigationalSite, **delegation):
    """A member of a site's staff, delegated every task they may hold (as the demo's staff are)."""
    user = make_member(username, role=role, trial=site.trial, site=site)
    delegate(site=site, staff=user, **delegation)
    return user


def make_nurse(site: InvestigationalSite, username: str = "nurse-a"):
    """A coordinator of `site` delegated only "register participants …" and "record withdrawals": not "obtain
    informed consent", not "record deaths" (as the demo's nurse-dij)."""
    from regulatory.models import Role

    user = make_member(username, role=Role.COORDINATOR, trial=site.trial, site=site)
    delegate(site=site, staff=user, tasks=["register", "withdrawal"])
    return user
