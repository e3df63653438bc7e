import datetime
import io

from PIL import Image, ImageDraw

from consent import services
from regulatory.tests.factories import make_opinion

FORM_CONTENT = {
    "information": [("heading", {"text": "Pourquoi cette étude ?", "level": 1}),
                    ("paragraph", "<p>Noradrénaline ≥ 0,25 µg/kg/min ; œdème ; à J30.</p>")],
    "consent": [("consent_statement", {"text": "J'accepte de participer.", "accept_label": "J'accepte",
                                       "refuse_label": "Je n'accepte pas", "mandatory": True}),
                ("signature", {"role": "participant", "label": "Le patient"})],
}


def make_form(*, trial, kind="patient", number="1.0", language="fr", publish=True, sites=(), approved=True,
              opinion_date=datetime.date(2026, 1, 10), **fields):
    fields.setdefault("title", f"Formulaire {kind} v{number}")
    fields.setdefault("version_date", datetime.date(2026, 1, 1))
    for part, blocks in FORM_CONTENT.items():
        fields.setdefault(part, blocks)
    version = services.consent_version_create(actor=None, trial=trial, publish=publish, kind=kind,
                                              language=language, version_number=number, sites=sites, **fields)
    if approved:
        make_opinion(trial=trial, version=version, date=opinion_date)
    return version


def signature_png() -> bytes:
    """A hand signature as a drawn line on a transparent PNG, as the signing canvas sends it."""
    image = Image.new("RGBA", (300, 100), (0, 0, 0, 0))
    ImageDraw.Draw(image).line([(10, 80), (80, 20), (150, 70), (290, 30)], fill="black", width=4)
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()
