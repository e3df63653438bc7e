"""Load the CDISC/DIA TMF Reference Model v3.3.1 taxonomy from the committed JSON data file.

Self-contained on purpose (historical models, no import of app code): later changes to `regulatory` must not
change what this migration does. Idempotent: rows are matched by number, so running it again changes nothing.
"""

import json
from pathlib import Path

from django.db import migrations

DATA_FILE = Path(__file__).resolve().parent.parent / "tmf_data" / "tmf_reference_model_v3.3.1.json"


def read_data():
    return json.loads(DATA_FILE.read_text(encoding="utf-8"))


def load_reference_model(apps, schema_editor=None):
    TmfZone = apps.get_model("regulatory", "TmfZone")
    TmfSection = apps.get_model("regulatory", "TmfSection")
    TmfArtifact = apps.get_model("regulatory", "TmfArtifact")
    data = read_data()
    zones = {
        z["number"]: TmfZone.objects.update_or_create(number=z["number"], defaults={"name": z["name"]})[0]
        for z in data["zones"]
    }
    sections = {
        s["number"]: TmfSection.objects.update_or_create(
            number=s["number"], defaults={"name": s["name"], "zone": zones[s["zone"]]}
        )[0]
        for s in data["sections"]
    }
    for a in data["artifacts"]:
        TmfArtifact.objects.update_or_create(
            number=a["number"],
            defaults={
                "section": sections[a["section"]],
                "name": a["name"],
                "definition": a["definition"],
                "is_core": a["core"],
                "unique_id": a["unique_id"],
                "trial_level": a["levels"]["trial"],
                "country_level": a["levels"]["country"],
                "site_level": a["levels"]["site"],
            },
        )


def unload_reference_model(apps, schema_editor=None):
    data = read_data()
    apps.get_model("regulatory", "TmfArtifact").objects.filter(
        number__in=[a["number"] for a in data["artifacts"]]
    ).delete()
    apps.get_model("regulatory", "TmfSection").objects.filter(
        number__in=[s["number"] for s in data["sections"]]
    ).delete()
    apps.get_model("regulatory", "TmfZone").objects.filter(number__in=[z["number"] for z in data["zones"]]).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("regulatory", "0004_tmf_reference_model"),
    ]

    operations = [
        migrations.RunPython(load_reference_model, unload_reference_model),
    ]
