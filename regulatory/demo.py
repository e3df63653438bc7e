"""The demonstration trial, NCT07063680, from its public registry record (ClinicalTrials.gov, updated
2026-01-15), plus two fictional sites and the demo accounts. The project keeps its own copy of these facts.

What follows the trial, its sites and accounts is loaded by demo steps, run in their order: regulatory's protocol
history (`demo_protocol`), and the steps other apps add from their AppConfig.ready() (`register_step`; consent:
its forms, where they are in force, participants and their consents).
"""

import datetime
from collections.abc import Callable
from dataclasses import dataclass, field

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone, translation

from . import demo_protocol, demo_qc, services
from .demo_accounts import DEMO_PASSWORD
from .models import InvestigationalSite, Role, TrialPage
from .tmf import filing, inspection

TRIAL = {
    "title": (
        "Efficacy of Early Argipressin in the Management of Intensive Care Patients With "
        "Norepinephrine-refractory Vasoplegic Shock"
    ),
    "slug": "nct07063680",
    "acronym": "",
    "nct_number": "NCT07063680",
    "eu_ct_number": "",
    "org_study_id": "NGUYEN PHRCN 2023",
    "sponsor_name": "Centre Hospitalier Universitaire Dijon",
    "phase": "PHASE3",
    "target_enrolment": 390,
    # The registry said "not yet recruiting" on 2026-01-15; the demo is set in November 2026, recruiting.
    "status": "RECRUITING",
    "start_date": datetime.date(2026, 1, 31),
    "completion_date": datetime.date(2028, 9, 30),
    "condition": "Patients With Norepinephrine-refractory Vasoplegic Shock",
    "design_summary": (
        "Interventional, randomised, parallel assignment, double-blind (participant, investigator); "
        "primary purpose: treatment. Inclusion within 12 hours of meeting the refractory vasoplegic shock "
        "criteria. Informed consent from the patient or, if unable, a surrogate; if no surrogate is "
        "available, emergency inclusion. Data collected at inclusion, D0 to D7, ICU discharge, D30 and D90."
    ),
}
ARMS = [
    {"label": "Interventional group", "arm_type": "EXPERIMENTAL",
     "intervention": "Argipressin 0.4 U/ml (40 IU diluted in a 100 ml bag of 0.9% NaCl)"},
    {"label": "Standard group", "arm_type": "ACTIVE_COMPARATOR",
     "intervention": "NaCl 0.9% (chlorure de sodium)"},
]
SITES = [
    {"code": "DIJ", "name": "CHU Dijon Bourgogne", "city": "Dijon", "country": "FR",
     "principal_investigator": "Dr Maxime Nguyen", "status": "ACTIVE",
     "activation_date": datetime.date(2026, 1, 31), "is_demo": False},
    {"code": "LIL", "name": "Hôpital universitaire fictif de Lille (démo)", "city": "Lille", "country": "FR",
     "principal_investigator": "Dr Jeanne Exemple (fictive)", "status": "ACTIVE",
     "activation_date": datetime.date(2026, 3, 2), "is_demo": True},
    {"code": "REN", "name": "Hôpital universitaire fictif de Rennes (démo)", "city": "Rennes", "country": "FR",
     "principal_investigator": "Dr Paul Démo (fictif)", "status": "PENDING",
     "activation_date": None, "is_demo": True},
]
# (username, first name, last name, role, site code or None). All people are fictional.
PEOPLE = [
    ("sponsor", "Sophie", "Promot (démo)", Role.SPONSOR, None),
    # A second sponsor account: the author of a version never approves it (four eyes), so the sponsor's drafts
    # are approved by someone else of the sponsor's team.
    ("sponsor-ra", "Rémi", "Réglementaire (démo)", Role.SPONSOR, None),
    ("qa", "Quentin", "Qualité (démo)", Role.SPONSOR_QA, None),
    # TMF quality control (issue 19): approves or rejects the documents the sponsor files by hand.
    ("tmf-qc", "Quitterie", "Contrôle (démo)", Role.TMF_QC, None),
    ("inspector", "Ivan", "Inspect (démo)", Role.INSPECTOR, None),
    ("investigator-dij", "Inès", "Vestig (démo)", Role.INVESTIGATOR, "DIJ"),
    ("coordinator-dij", "Claire", "Coord (démo)", Role.COORDINATOR, "DIJ"),
    # DIJ staff NOT delegated "obtain informed consent" on the delegation log (registers participants, records
    # withdrawals): the log is enforced.
    ("nurse-dij", "Nadia", "Infirmière (démo)", Role.COORDINATOR, "DIJ"),
    ("investigator-lil", "Louis", "Vestig (démo)", Role.INVESTIGATOR, "LIL"),
    ("coordinator-lil", "Lucie", "Coord (démo)", Role.COORDINATOR, "LIL"),
    ("investigator-ren", "Romain", "Vestig (démo)", Role.INVESTIGATOR, "REN"),
    ("coordinator-ren", "Rose", "Coord (démo)", Role.COORDINATOR, "REN"),
]
ADMIN = ("admin", "Alice", "Admin (démo)")


@dataclass
class Demo:
    """What the demo steps share: the trial, the sponsor acting, the report of what was created or updated, and
    what earlier steps loaded (`concerned`: the documents a letter may concern, by key)."""

    trial: TrialPage
    sponsor: object
    report: dict
    protocol_versions: dict = field(default_factory=dict)
    concerned: dict = field(default_factory=dict)
    loaded: dict = field(default_factory=dict)


# (order, name) → step; run in order. Regulatory's: 10 protocol versions, 30 correspondence, 40 activations, 70 TMF
# quality control and milestones.
_STEPS: dict[tuple[int, str], Callable[[Demo], None]] = {
    (10, "protocol versions"): demo_protocol.load_versions,
    (30, "correspondence"): demo_protocol.load_correspondence,
    (40, "activations and acknowledgements"): demo_protocol.load_activations,
    (70, "TMF quality control and milestones"): demo_qc.load,
}


def register_step(order: int, name: str, step: Callable[[Demo], None]) -> None:
    """Run `step(demo)` when the demo is loaded, after the steps of a lower `order`."""
    for key in [key for key in _STEPS if key[1] == name]:
        del _STEPS[key]
    _STEPS[(order, name)] = step


def steps() -> list[Callable[[Demo], None]]:
    return [step for _key, step in sorted(_STEPS.items(), key=lambda item: item[0])]


def _demo_user(username: str, first_name: str, last_name: str, *, superuser: bool = False):
    """The demo account, created with the demo password when missing; an existing one is left as it is."""
    User = get_user_model()
    user = User.objects.filter(username=username).first()
    if user is not None:
        return user, False
    user = User(username=username, first_name=first_name, last_name=last_name,
                email=f"{username}@demo.trialdocs.invalid", is_superuser=superuser, is_staff=superuser)
    user.set_password(DEMO_PASSWORD)
    user.save()
    return user, True


@transaction.atomic
def load(*, home) -> dict:
    """Create or bring up to date the demo trial, sites and accounts. A second run changes nothing."""
    report = {"created": [], "updated": []}
    admin, created = _demo_user(*ADMIN, superuser=True)
    if created:
        services.account_audit(actor=None, user=admin, before={}, action="account.created")
        report["created"].append(f"user {admin.username}")

    fields = dict(TRIAL)
    trial = TrialPage.objects.filter(nct_number=TRIAL["nct_number"]).first()
    if trial is None:
        trial = services.trial_create(actor=None, parent=home, arms=ARMS, **fields)
        report["created"].append(f"trial {trial.nct_number}")
    else:
        revision_before = trial.latest_revision_id
        trial = services.trial_update(actor=None, trial=trial, arms=ARMS, **fields)
        if trial.latest_revision_id != revision_before:
            report["updated"].append(f"trial {trial.nct_number}")

    sites = {}
    for site_fields in SITES:
        site = InvestigationalSite.objects.filter(trial=trial, code=site_fields["code"]).first()
        if site is None:
            site = services.site_create(actor=None, trial=trial, **site_fields)
            report["created"].append(f"site {site.code}")
        else:
            before = {f: getattr(site, f) for f in site_fields}
            site = services.site_update(
                actor=None, site=site, **{k: v for k, v in site_fields.items() if k != "code"}
            )
            if before != {f: getattr(site, f) for f in site_fields}:
                report["updated"].append(f"site {site.code}")
        sites[site.code] = site

    for username, first_name, last_name, role, site_code in PEOPLE:
        user, created = _demo_user(username, first_name, last_name)
        if created:
            services.account_audit(actor=None, user=user, before={}, action="account.created")
            report["created"].append(f"user {username}")
        site = sites[site_code] if site_code else None
        if services.role_grant(actor=None, user=user, role=role, trial=trial, site=site):
            report["created"].append(f"role {role} for {username}")

    # Each site's principal investigator signs its delegation log (consent's demo step "delegation log").
    for code, site in sites.items():
        if site.principal_investigator_account_id is None:
            pi = get_user_model().objects.filter(username=f"investigator-{code.lower()}").first()
            if pi is not None:
                sites[code] = services.site_update(actor=None, site=site, principal_investigator_account=pi)
                report["updated"].append(f"site {code} principal investigator's account")

    services.trial_setup(actor=None, trial=trial)
    _inspection_window(trial=trial, report=report)
    demo = Demo(trial=trial, sponsor=get_user_model().objects.get(username="sponsor"), report=report)
    for step in steps():
        step(demo)
    filing.refile_trial(trial)  # files what a demo loaded before automatic filing existed; no change otherwise
    return report


def logins() -> list[tuple[str, str]]:
    """(username, what they are) for the demo logins, in the order the README gives them."""
    rows = [(ADMIN[0], "administrator")]
    with translation.override("en"):
        for username, _first, _last, role, site_code in PEOPLE:
            where = f" at {site_code}" if site_code else " of NCT07063680"
            rows.append((username, f"{str(Role(role).label).lower()}{where}"))
    return rows


def _inspection_window(*, trial, report) -> None:
    """The demo inspector inspects the demo trial for a month from the day the demo is loaded (a window that
    has closed since is followed by a new one, so the demo login always works)."""
    from regulatory.models import InspectorGrant

    User = get_user_model()
    inspector = User.objects.get(username="inspector")
    if InspectorGrant.objects.active().filter(inspector=inspector, trial=trial).exists():
        return
    now = timezone.now()
    inspection.grant_create(actor=User.objects.get(username="sponsor"), trial=trial, inspector=inspector,
                          starts_at=now - datetime.timedelta(days=1), ends_at=now + datetime.timedelta(days=30),
                          purpose="Inspection ANSM (démo)")
    report["created"].append("inspection window for inspector")
