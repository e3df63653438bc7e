"""Demo consent forms of NCT07063680, written for this trial (French): patient (v1.0 superseded by v2.0 through
amendment 1), surrogate, emergency inclusion and continuation, plus a site-specific surrogate version at the
fictional LIL site. Sites, committee and references are the demo's, not the trial's."""

import datetime
from zoneinfo import ZoneInfo

from . import services
from .models import ConsentFormVersionPage

PARIS = ZoneInfo("Europe/Paris")


def H(text, level=1):  # noqa: N802
    return ("heading", {"text": text, "level": level})


def P(html):  # noqa: N802
    return ("paragraph", html)


def L(*items, numbered=False):  # noqa: N802
    return ("list", {"style": "numbered" if numbered else "bullet", "items": list(items)})


def S(text, mandatory=True, accept="J'accepte", refuse="Je n'accepte pas"):  # noqa: N802
    return ("consent_statement", {"text": text, "accept_label": accept, "refuse_label": refuse,
                                  "mandatory": mandatory})


def SIG(role, label):  # noqa: N802
    return ("signature", {"role": role, "label": label})


SCHEDULE = ("table", {"first_row_is_header": True, "rows": [
    ["Moment", "Ce qui est fait"],
    ["Inclusion (J0)", "Examen clinique, bilan sanguin, début de la perfusion à l'étude"],
    ["J1 à J7", "Recueil quotidien des données de réanimation"],
    ["Sortie de réanimation", "Recueil des données du séjour"],
    ["J30 et J90", "Appel téléphonique : état de santé, survie"],
]})

STUDY = [
    H("Pourquoi cette étude ?"),
    P("<p>Vous êtes hospitalisé(e) en réanimation pour un <b>choc vasoplégique</b> : la pression artérielle reste "
      "basse malgré la noradrénaline à forte dose (≥ 0,25 µg/kg/min). L'argipressine (vasopressine) est "
      "recommandée en deuxième intention, mais son bénéfice n'a jamais été démontré par une grande étude chez "
      "ces patients.</p>"),
    H("Comment se déroule l'étude ?"),
    P("<p>390 patients participeront. Un tirage au sort attribue soit l'argipressine (0,4 U/ml), soit un "
      "placebo (sérum salé à 0,9 %), en plus du traitement habituel. Ni vous ni l'équipe ne savez quel produit "
      "vous recevez (double aveugle).</p>"),
    SCHEDULE,
    H("Quels sont les bénéfices et les risques ?"),
    L("Bénéfice attendu : une meilleure survie à J30 et moins de recours à la dialyse.",
      "Risques possibles : ischémie des doigts ou de l'intestin, baisse du sodium sanguin ; ils sont "
      "surveillés chaque jour.",
      "Vous pouvez à tout moment arrêter votre participation sans conséquence sur vos soins."),
    H("Vos données"),
    P("<p>Vos données sont <b>pseudonymisées</b> (un code remplace votre nom) et traitées par le CHU Dijon "
      "Bourgogne, promoteur, selon la méthodologie de référence MR-001. Vous disposez de droits d'accès, de "
      "rectification et d'opposition auprès du médecin investigateur.</p>"),
]


def consent_part(signer_role, signer_label, *, extra=()):
    return [
        S("J'ai reçu la note d'information, j'ai pu poser mes questions et j'accepte de participer à l'étude."),
        S("J'accepte que mes données pseudonymisées soient utilisées pour cette recherche."),
        *extra,
        ("checkbox", {"text": "Je souhaite être informé(e) des résultats globaux de l'étude."}),
        ("fill_in", {"label": "Code participant"}),
        SIG(signer_role, signer_label),
        SIG("investigator", "Investigateur ayant recueilli le consentement"),
    ]


# The ceremony of the patient form v2.0: the patient, an impartial witness when the patient cannot read, an
# interpreter if needed, then the investigator's countersignature (within 72 h when a coordinator obtained consent).
CEREMONY = [
    ("signer", {"role": "participant", "requirement": "required", "later_within_hours": None}),
    ("signer", {"role": "impartial_witness", "requirement": "if_cannot_read", "later_within_hours": None}),
    ("signer", {"role": "interpreter", "requirement": "optional", "later_within_hours": None}),
    ("signer", {"role": "investigator", "requirement": "required", "later_within_hours": 72}),
]
QUESTIONS = [
    ("question", {"question": "Pouvez-vous arrêter votre participation à tout moment ?",
                  "choices": ["Oui, sans avoir à me justifier et sans conséquence sur mes soins",
                              "Non, une fois inclus je dois aller jusqu'au bout"],
                  "right_answer": 1,
                  "explanation": "Vous pouvez arrêter à tout moment, sans vous justifier ; vos soins n'en sont pas "
                                 "changés."}),
    ("question", {"question": "Savez-vous quel produit vous recevrez ?",
                  "choices": ["Oui, l'argipressine", "Non : ni moi ni l'équipe ne le savons (double aveugle)"],
                  "right_answer": 2,
                  "explanation": "Un tirage au sort décide, et ni vous ni l'équipe ne savez quel produit vous "
                                 "recevez."}),
]

FORMS = [
    {"key": "patient:fr:1.0", "kind": "patient", "version_number": "1.0", "version_date": datetime.date(2025, 10, 15),
     "title": "Note d'information et consentement du patient — v1.0",
     "information": STUDY, "consent": consent_part("participant", "Le patient")},
    {"key": "patient:fr:2.0", "kind": "patient", "version_number": "2.0", "version_date": datetime.date(2026, 3, 1),
     "title": "Note d'information et consentement du patient — v2.0", "amendment": "2.0",
     "information": [*STUDY, H("Ce qui change dans cette version"),
                     P("<p>Le seuil de sodium sanguin en dessous duquel on ne peut pas participer passe de 120 "
                       "à 125 mmol/l (amendement n°1).</p>")],
     "consent": consent_part("participant", "Le patient"),
     "signers": CEREMONY, "comprehension": QUESTIONS},
    # A change judged not substantive (a new telephone number): the participants are informed, no new signature.
    {"key": "patient:fr:2.1", "kind": "patient", "version_number": "2.1", "version_date": datetime.date(2026, 11, 2),
     "title": "Note d'information et consentement du patient — v2.1",
     "information": [*STUDY, H("Ce qui change dans cette version"),
                     P("<p>Le seuil de sodium sanguin en dessous duquel on ne peut pas participer passe de 120 "
                       "à 125 mmol/l (amendement n°1).</p>"),
                     P("<p>Le numéro de téléphone de l'équipe de recherche change : 03 80 00 00 17 (démo). "
                       "Rien d'autre ne change.</p>")],
     "consent": consent_part("participant", "Le patient")},
    {"key": "surrogate:fr:1.0", "kind": "surrogate", "version_number": "1.0",
     "version_date": datetime.date(2025, 10, 15), "title": "Note d'information et consentement d'un proche — v1.0",
     "information": [P("<p>Votre proche ne peut pas exprimer sa volonté. La loi (article L1122-1-2 du code de la "
                       "santé publique) permet de vous demander votre consentement à sa place. Il lui sera "
                       "demandé de confirmer sa participation dès qu'il le pourra.</p>"), *STUDY],
     "consent": [("fill_in", {"label": "Lien avec le patient"}),
                 ("checkbox", {"text": "J'atteste n'avoir aucun lien avec l'investigateur ni avec le promoteur."}),
                 *consent_part("surrogate", "Le proche ou la personne de confiance")]},
    {"key": "surrogate:fr:1.1:LIL", "kind": "surrogate", "version_number": "1.1",
     "version_date": datetime.date(2026, 4, 20), "sites": ["LIL"],
     "title": "Note d'information et consentement d'un proche — v1.1 (centre LIL, démo)",
     "information": [P("<p>Votre proche ne peut pas exprimer sa volonté. La loi (article L1122-1-2 du code de la "
                       "santé publique) permet de vous demander votre consentement à sa place.</p>"), *STUDY,
                     H("Contact local"), P("<p>Service de réanimation du centre LIL (démo), joignable jour et "
                                           "nuit au standard.</p>")],
     "consent": [("fill_in", {"label": "Lien avec le patient"}),
                 ("checkbox", {"text": "J'atteste n'avoir aucun lien avec l'investigateur ni avec le promoteur."}),
                 *consent_part("surrogate", "Le proche ou la personne de confiance")]},
    {"key": "emergency:fr:1.0", "kind": "emergency", "version_number": "1.0",
     "version_date": datetime.date(2025, 10, 15), "title": "Attestation d'inclusion en situation d'urgence — v1.0",
     "information": [P("<p>L'article L1122-1-2 du code de la santé publique permet d'inclure un patient sans "
                       "consentement préalable lorsque l'urgence l'exige et qu'aucun proche ne peut être joint "
                       "dans le délai de 12 heures fixé par le protocole.</p>")],
     "consent": [("checkbox", {"text": "Le patient n'est pas en état de consentir."}),
                 ("checkbox", {"text": "Aucun proche n'a pu être joint dans le délai compatible avec l'urgence "
                                       "(tentatives notées au dossier)."}),
                 ("checkbox", {"text": "Aucune opposition antérieure du patient à la recherche n'est connue."}),
                 ("fill_in", {"label": "Code participant"}),
                 ("fill_in", {"label": "Tentatives de contact (heures, personnes)"}),
                 SIG("investigator", "L'investigateur atteste de la situation d'urgence")]},
    {"key": "continuation:fr:1.0", "kind": "continuation", "version_number": "1.0",
     "version_date": datetime.date(2025, 10, 15), "title": "Consentement de poursuite — v1.0",
     "information": [P("<p>Vous avez été inclus(e) dans l'étude alors que vous ne pouviez pas donner votre avis, "
                       "avec l'accord d'un proche ou en situation d'urgence. Nous vous demandons maintenant si "
                       "vous acceptez de poursuivre.</p>"),
                     P("<p>Si vous ne pouvez toujours pas donner votre avis, la personne qui vous représente "
                       "(un proche ou votre personne de confiance) peut accepter pour vous que votre participation "
                       "se poursuive. Votre propre avis vous sera demandé dès que vous pourrez le donner.</p>"),
                     *STUDY],
     "consent": [S("J'accepte de poursuivre ma participation à l'étude (ou, pour le représentant : j'accepte, "
                   "pour le patient, la poursuite de sa participation)."),
                 S("Si je refuse de poursuivre, je m'oppose à l'utilisation des données déjà recueillies (ou, pour "
                   "le représentant : je m'y oppose pour le patient).",
                   mandatory=False, accept="Oui, je m'y oppose", refuse="Non"),
                 ("fill_in", {"label": "Code participant"}),
                 SIG("participant", "Le patient"),
                 SIG("surrogate", "Ou, si le patient ne peut toujours pas consentir, son représentant (proche ou "
                                  "personne de confiance)"),
                 ("fill_in", {"label": "Son lien avec le patient"}),
                 SIG("investigator", "Investigateur ayant recueilli le consentement de poursuite")]},
]

# (form key, site code, effective from)
EFFECTIVITIES = [
    ("patient:fr:1.0", "DIJ", datetime.datetime(2026, 1, 31, 8, 0, tzinfo=PARIS)),
    ("surrogate:fr:1.0", "DIJ", datetime.datetime(2026, 1, 31, 8, 0, tzinfo=PARIS)),
    ("emergency:fr:1.0", "DIJ", datetime.datetime(2026, 1, 31, 8, 0, tzinfo=PARIS)),
    ("continuation:fr:1.0", "DIJ", datetime.datetime(2026, 1, 31, 8, 0, tzinfo=PARIS)),
    ("patient:fr:1.0", "LIL", datetime.datetime(2026, 3, 2, 8, 0, tzinfo=PARIS)),
    ("surrogate:fr:1.0", "LIL", datetime.datetime(2026, 3, 2, 8, 0, tzinfo=PARIS)),
    ("emergency:fr:1.0", "LIL", datetime.datetime(2026, 3, 2, 8, 0, tzinfo=PARIS)),
    ("continuation:fr:1.0", "LIL", datetime.datetime(2026, 3, 2, 8, 0, tzinfo=PARIS)),
    ("patient:fr:2.0", "DIJ", datetime.datetime(2026, 4, 15, 8, 0, tzinfo=PARIS)),
    ("patient:fr:2.0", "LIL", datetime.datetime(2026, 4, 20, 8, 0, tzinfo=PARIS)),
    ("surrogate:fr:1.1:LIL", "LIL", datetime.datetime(2026, 5, 4, 8, 0, tzinfo=PARIS)),
]


def load_versions(*, trial, sponsor, protocol_versions: dict, report: dict) -> dict:
    """Create the demo versions (published: they are the historical record). Returns them by key."""
    existing = {}
    for version in ConsentFormVersionPage.objects.descendant_of(trial):
        sites = ":".join(sorted(version.sites.values_list("code", flat=True)))
        existing[f"{version.kind}:{version.language}:{version.version_number}" + (f":{sites}" if sites else "")] = \
            version
    for form in FORMS:
        if form["key"] in existing:
            continue
        fields = {k: v for k, v in form.items() if k not in ("key", "sites", "amendment")}
        version = services.consent_version_create(
            actor=sponsor, trial=trial, publish=True, language="fr",
            sites=trial.sites.filter(code__in=form.get("sites", [])),
            amendment=protocol_versions.get(form.get("amendment")), **fields)
        existing[form["key"]] = version
        report["created"].append(f"consent form {form['key']}")
    return existing


# Who acknowledged each version at each site; the others are still to acknowledge (the LIL staff's home banner).
ACKNOWLEDGED_BY = {
    ("patient:fr:1.0", "DIJ"): "coordinator-dij", ("surrogate:fr:1.0", "DIJ"): "coordinator-dij",
    ("emergency:fr:1.0", "DIJ"): "investigator-dij", ("continuation:fr:1.0", "DIJ"): "coordinator-dij",
    ("patient:fr:2.0", "DIJ"): "investigator-dij",
    ("patient:fr:1.0", "LIL"): "coordinator-lil", ("surrogate:fr:1.0", "LIL"): "coordinator-lil",
    ("emergency:fr:1.0", "LIL"): "investigator-lil", ("continuation:fr:1.0", "LIL"): "coordinator-lil",
}


def load_effectivities(*, trial, sponsor, versions: dict, report: dict) -> None:
    from django.contrib.auth import get_user_model

    from .models import FormAcknowledgement

    for key, code, effective_from in EFFECTIVITIES:
        site = trial.sites.get(code=code)
        version = versions[key]
        if not version.effectivities.filter(site=site).exists():
            services.form_make_effective(actor=sponsor, version=version, sites=[site], effective_from=effective_from)
            report["created"].append(f"{key} effective at {code}")
        period = version.effectivities.get(site=site)
        username = ACKNOWLEDGED_BY.get((key, code))
        if username and not FormAcknowledgement.objects.filter(effectivity=period).exists():
            services.form_acknowledgement_create(actor=get_user_model().objects.get(username=username), period=period)
            report["created"].append(f"acknowledgement of {key} by {code}")


# Versions that take effect once the participants exist, with the sponsor's judgement of the change: (form key,
# site code, effective from, "substantive" or "inform"), then the participant told of it (code, by, when, note).
LATE_CHANGES = [("patient:fr:2.1", "DIJ", datetime.datetime(2026, 11, 16, 8, 0, tzinfo=PARIS), "inform")]
INFORMED = [("DIJ-0010", "coordinator-dij", datetime.datetime(2026, 11, 18, 15, 30, tzinfo=PARIS),
             "Informé(e) lors de la visite de suivi : nouveau numéro de téléphone de l'équipe, remis par écrit "
             "(démo).")]


def load_late_changes(*, trial, sponsor, versions: dict, report: dict) -> None:
    from django.contrib.auth import get_user_model

    from .models import ConsentTask

    for key, code, effective_from, change_kind in LATE_CHANGES:
        site, version = trial.sites.get(code=code), versions[key]
        if not version.effectivities.filter(site=site).exists():
            services.form_make_effective(actor=sponsor, version=version, sites=[site], effective_from=effective_from,
                                         change_kind=change_kind)
            report["created"].append(f"{key} effective at {code} ({change_kind})")
    for code, username, informed_at, note in INFORMED:
        task = ConsentTask.objects.filter(participant__site__trial=trial, participant__code=code,
                                          kind=ConsentTask.Kind.INFORM, closed_at__isnull=True).first()
        if task is not None:
            services.task_inform_close(actor=get_user_model().objects.get(username=username), task=task, note=note,
                                       at=informed_at)
            report["created"].append(f"{code} informed of the new version")


# --- Demo steps (`regulatory.demo.register_step`, from `ConsentConfig.ready`) ---

def load_versions_step(demo) -> None:
    """After the protocol versions: the forms, which letters may then concern (as "form:<key>")."""
    demo.loaded["consent_forms"] = load_versions(trial=demo.trial, sponsor=demo.sponsor,
                                                 protocol_versions=demo.protocol_versions, report=demo.report)
    demo.concerned.update({f"form:{key}": version for key, version in demo.loaded["consent_forms"].items()})


def load_effectivities_step(demo) -> None:
    """After the favourable opinions: the forms in force at the sites."""
    load_effectivities(trial=demo.trial, sponsor=demo.sponsor, versions=demo.loaded["consent_forms"],
                       report=demo.report)


# (site code, staff user name, tasks or None for every task they may hold): the demo's delegation logs, from
# 1 January 2026, signed by each site's principal investigator and acknowledged by each staff member.
DELEGATIONS = [
    ("DIJ", "investigator-dij", None), ("DIJ", "coordinator-dij", None),
    ("DIJ", "nurse-dij", ["register", "withdrawal"]),  # not "obtain informed consent"
    ("LIL", "investigator-lil", None), ("LIL", "coordinator-lil", None),
    ("REN", "investigator-ren", None), ("REN", "coordinator-ren", None),
]
DELEGATION_START = datetime.date(2026, 1, 1)


def load_delegations_step(demo) -> None:
    """Before the participants: each site's delegation log, through the real services (signed PDFs, filed)."""
    from django.contrib.auth import get_user_model

    from regulatory import permissions
    from regulatory.demo_accounts import DEMO_PASSWORD
    from regulatory.models import DelegatedTask, DelegationEntry, InvestigationalSite

    from .pki import ensure_identities
    from .services import delegation_acknowledge, delegation_entry_create

    # The log prints signed for each site: the demo's signing identities first (reported as the records' step does).
    certificates = ensure_identities(sponsor_name=demo.trial.sponsor_name,
                                     site_codes=list(demo.trial.sites.values_list("code", flat=True)),
                                     site_names=dict(demo.trial.sites.values_list("code", "name")))
    for label, status in certificates.items():
        if status == "created":
            demo.report["created"].append(f"demo signing certificate {label}")
        elif status != "kept":
            demo.report["updated"].append(f"demo signing certificate {label} ({status})")
    users = get_user_model().objects
    for code, username, tasks in DELEGATIONS:
        site = InvestigationalSite.objects.filter(trial=demo.trial, code=code).first()
        staff = users.filter(username=username).first()
        if site is None or staff is None or site.principal_investigator_account is None:
            continue
        if DelegationEntry.objects.filter(site=site, staff=staff).exists():
            continue
        if tasks is None:
            investigator = permissions.site_investigators(site).filter(pk=staff.pk).exists()
            tasks = [t for t in DelegatedTask.values if investigator or t != DelegatedTask.EMERGENCY]
        pi = site.principal_investigator_account
        entry = delegation_entry_create(actor=pi, site=site, staff=staff, tasks=tasks, start_date=DELEGATION_START,
                                        end_date=None, username=pi.username, password=DEMO_PASSWORD)
        delegation_acknowledge(actor=staff, entry=entry, username=staff.username, password=DEMO_PASSWORD)
        demo.report["created"].append(f"delegation {code} {username}")


def load_records_step(demo) -> None:
    """Last: the participants and their signed consents."""
    from . import demo_records

    demo_records.load(trial=demo.trial, report=demo.report)


def load_late_changes_step(demo) -> None:
    """After the participants: a version judged not substantive takes effect, and the participants are told."""
    load_late_changes(trial=demo.trial, sponsor=demo.sponsor, versions=demo.loaded["consent_forms"],
                      report=demo.report)


def register_steps() -> None:
    from regulatory import demo

    demo.register_step(20, "consent forms", load_versions_step)
    demo.register_step(50, "consent forms in force", load_effectivities_step)
    demo.register_step(55, "delegation log", load_delegations_step)
    demo.register_step(60, "participants and consents", load_records_step)
    demo.register_step(65, "a change judged not substantive", load_late_changes_step)
