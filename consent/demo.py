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


FORMS = [
    {"key": "patient:fr:1.0", "kind": "patient", "version_number": "1.0", "version_date": datetime.date(2025, 10, 15),
     "title": "Note d'information et consentement du patient — v1.0",
     "information": STUDY, "consent": consent_part("participant", "Le patient")},
    {"key": "patient:fr:2.0", "kind": "patient", "version_number": "2.0", "version_date": datetime.date(2026, 3, 1),
     "title": "Note d'information et consentement du patient — v2.0", "amendment": "2.0",
     "information": [*STUDY, H("Ce qui change dans cette version"),
                     P("<p>Le seuil de sodium sanguin en dessous duquel on ne peut pas participer passe de 120 "
                       "à 125 mmol/l (amendement n°1).</p>")],
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


def load_effectivities(*, trial, sponsor, versions: dict, report: dict) -> None:
    for key, code, effective_from in EFFECTIVITIES:
        site = trial.sites.get(code=code)
        version = versions[key]
        if version.effectivities.filter(site=site).exists():
            continue
        services.form_make_effective(actor=sponsor, version=version, sites=[site], effective_from=effective_from)
        report["created"].append(f"{key} effective at {code}")

