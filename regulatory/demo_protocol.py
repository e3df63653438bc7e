"""Demo protocol history of NCT07063680: v1.0 with its CPP opinion and ANSM authorisation, and a fictional
substantial amendment 1 (v2.0) with its submission, a request for information, the response and the opinion.
The committee, the references and the amendment are fictional and say so."""

import datetime
from zoneinfo import ZoneInfo

from django.contrib.auth import get_user_model

from . import services
from .models import (
    CorrespondenceIndexPage,
    CorrespondenceItemPage,
    ProtocolPage,
    ProtocolVersionPage,
    SiteAcknowledgement,
    SiteActivation,
    SubmissionPage,
)

PARIS = ZoneInfo("Europe/Paris")

V1_BODY = [
    ("heading", {"number": "1", "text": "Objectif principal"}),
    ("paragraph", "<p>Montrer la supériorité de l'argipressine associée à la noradrénaline sur la noradrénaline "
                  "seule sur la survie à J30 des patients en choc vasoplégique réfractaire.</p>"),
    ("heading", {"number": "5.1", "text": "Critères d'inclusion"}),
    ("paragraph", "<ul><li>Âge ≥ 18 ans</li><li>Choc vasoplégique : vasopresseur en cours, index cardiaque "
                  "≥ 2,3 l/min/m² et lactatémie &gt; 2 mmol/l</li><li>Choc réfractaire : noradrénaline base "
                  "≥ 0,25 µg/kg/min</li><li>Critères réunis depuis moins de 12 heures</li><li>Consentement du "
                  "patient, à défaut d'un proche ; à défaut, inclusion en situation d'urgence</li></ul>"),
    ("heading", {"number": "5.2", "text": "Critères de non-inclusion"}),
    ("paragraph", "<ul><li>Traitement en cours par vasopressine</li><li>Syndrome coronarien aigu évolutif, "
                  "ischémie mésentérique</li><li>Hyponatrémie &lt; 120 mmol/l</li><li>Personne sous mesure de "
                  "protection juridique</li><li>Grossesse, parturiente ou allaitement</li></ul>"),
]
V2_BODY = [*V1_BODY[:5], (
    "paragraph", "<ul><li>Traitement en cours par vasopressine</li><li>Syndrome coronarien aigu évolutif, "
                 "ischémie mésentérique</li><li>Hyponatrémie &lt; 125 mmol/l</li><li>Personne sous mesure de "
                 "protection juridique</li><li>Grossesse, parturiente ou allaitement</li></ul>")]

VERSIONS = [
    {"title": "Protocole v1.0", "version_number": "1.0", "version_date": datetime.date(2025, 10, 15),
     "amendment_number": None, "substantial": False, "body": V1_BODY,
     "summary_of_changes": "Version initiale du protocole."},
    {"title": "Protocole v2.0 — modification substantielle n°1 (démo)", "version_number": "2.0",
     "version_date": datetime.date(2026, 2, 20), "amendment_number": 1, "substantial": True, "body": V2_BODY,
     "summary_of_changes": "Critère de non-inclusion « hyponatrémie » porté de < 120 à < 125 mmol/l ; "
                           "note d'information et formulaire de consentement du patient révisés en conséquence.",
     "rationale": "Exemple fictif pour la démonstration : harmonisation avec la contre-indication du "
                  "résumé des caractéristiques du produit.",
     "affected_sections": "5.2 Critères de non-inclusion ; annexe 3, note d'information du patient",
     "affected_consent_kinds": ["patient"]},
]

# (submission, [letters]); a letter is (title, direction, date, type, correspondent, reference, versions concerned)
CORRESPONDENCE = [
    ({"title": "Soumission initiale au CPP", "correspondent": "ethics_committee",
      "correspondent_name": "CPP tiré au sort (démo)", "reference": "DEMO-CPP-2025-0412"}, [
        ("Dossier de demande initiale", "sent", datetime.date(2025, 10, 20), "initial_submission",
         "CPP tiré au sort (démo)", "DEMO-CPP-2025-0412", ["1.0"]),
        ("Avis favorable du CPP", "received", datetime.date(2025, 12, 15), "favourable_opinion",
         "CPP tiré au sort (démo)", "DEMO-CPP-2025-0412-AV",
         ["1.0", "form:patient:fr:1.0", "form:surrogate:fr:1.0", "form:emergency:fr:1.0",
          "form:continuation:fr:1.0"]),
    ]),
    ({"title": "Demande d'autorisation à l'ANSM", "correspondent": "authority",
      "correspondent_name": "ANSM", "reference": "DEMO-ANSM-2025-A01234-56"}, [
        ("Demande d'autorisation d'essai clinique", "sent", datetime.date(2025, 10, 20), "initial_submission",
         "ANSM", "DEMO-ANSM-2025-A01234-56", ["1.0"]),
        ("Autorisation de l'ANSM", "received", datetime.date(2026, 1, 9), "favourable_opinion",
         "ANSM", "DEMO-ANSM-2025-A01234-56-AUT", ["1.0"]),
    ]),
    ({"title": "Modification substantielle n°1 (démo)", "correspondent": "ethics_committee",
      "correspondent_name": "CPP tiré au sort (démo)", "reference": "DEMO-CPP-2026-0077"}, [
        ("Soumission de la modification substantielle n°1", "sent", datetime.date(2026, 2, 23),
         "modification_submission", "CPP tiré au sort (démo)", "DEMO-CPP-2026-0077", ["2.0", "form:patient:fr:2.0"]),
        ("Demande d'informations complémentaires", "received", datetime.date(2026, 3, 10),
         "request_for_information", "CPP tiré au sort (démo)", "DEMO-CPP-2026-0077-Q1", ["2.0"]),
        ("Réponse à la demande d'informations", "sent", datetime.date(2026, 3, 17), "response",
         "CPP tiré au sort (démo)", "DEMO-CPP-2026-0077-R1", ["2.0"]),
        ("Avis favorable sur la modification substantielle n°1", "received", datetime.date(2026, 4, 2),
         "favourable_opinion", "CPP tiré au sort (démo)", "DEMO-CPP-2026-0077-AV",
         ["2.0", "form:patient:fr:2.0", "form:surrogate:fr:1.1:LIL"]),
    ]),
    ({"title": "Note d'information patient v2.1 : changement non substantiel (démo)",
      "correspondent": "ethics_committee", "correspondent_name": "CPP tiré au sort (démo)",
      "reference": "DEMO-CPP-2026-0131"}, [
        ("Avis favorable : note d'information patient v2.1 (nouveau numéro de téléphone)", "received",
         datetime.date(2026, 11, 5), "favourable_opinion", "CPP tiré au sort (démo)", "DEMO-CPP-2026-0131-AV",
         ["form:patient:fr:2.1"]),
    ]),
]

# (version, site, effective from, acknowledged by or None)
ACTIVATIONS = [
    ("1.0", "DIJ", datetime.datetime(2026, 1, 31, 8, 0, tzinfo=PARIS), "investigator-dij"),
    ("1.0", "LIL", datetime.datetime(2026, 3, 2, 8, 0, tzinfo=PARIS), "coordinator-lil"),
    ("2.0", "DIJ", datetime.datetime(2026, 4, 15, 8, 0, tzinfo=PARIS), "coordinator-dij"),
    ("2.0", "LIL", datetime.datetime(2026, 4, 20, 8, 0, tzinfo=PARIS), None),
]


def load_versions(demo) -> None:
    """The protocol versions, published; letters may concern them (`demo.concerned`, by version number)."""
    protocol = ProtocolPage.objects.child_of(demo.trial).get()
    versions = {v.version_number: v for v in ProtocolVersionPage.objects.child_of(protocol)}
    for fields in VERSIONS:
        if fields["version_number"] not in versions:
            version = services.protocol_version_create(actor=demo.sponsor, protocol=protocol, publish=True, **fields)
            versions[version.version_number] = version
            demo.report["created"].append(f"protocol version {version.version_number}")
    demo.protocol_versions = versions
    demo.concerned.update(versions)


def load_correspondence(demo) -> None:
    """The submissions and their letters, each concerning the documents it names (`demo.concerned`)."""
    index = CorrespondenceIndexPage.objects.child_of(demo.trial).get()
    for submission_fields, letters in CORRESPONDENCE:
        submission = SubmissionPage.objects.child_of(index).filter(title=submission_fields["title"]).first()
        if submission is None:
            submission = services.submission_create(actor=demo.sponsor, index=index, **submission_fields)
            demo.report["created"].append(f"submission {submission.title}")
        for title, direction, date, item_type, correspondent, reference, concerns in letters:
            if CorrespondenceItemPage.objects.child_of(submission).filter(title=title).exists():
                continue
            services.correspondence_item_create(
                actor=demo.sponsor, submission=submission, title=title, direction=direction, date=date,
                item_type=item_type, correspondent=correspondent, reference=reference,
                concerns=[demo.concerned[key] for key in concerns])
            demo.report["created"].append(f"letter {title}")


def load_activations(demo) -> None:
    """The protocol versions in force at the sites, and the sites' acknowledgements."""
    users = get_user_model().objects
    for number, code, effective_from, acknowledger in ACTIVATIONS:
        site = demo.trial.sites.get(code=code)
        version = demo.protocol_versions[number]
        activation = SiteActivation.objects.filter(version=version, site=site).first()
        if activation is None:
            activation = services.activation_create(actor=demo.sponsor, version=version, site=site,
                                                    effective_from=effective_from)
            demo.report["created"].append(f"v{number} effective at {code}")
        if acknowledger and not SiteAcknowledgement.objects.filter(activation=activation).exists():
            services.acknowledgement_create(actor=users.get(username=acknowledger), activation=activation)
            demo.report["created"].append(f"acknowledgement of v{number} by {code}")
