"""Documents filed before quality control existed are QC-approved (none disappears from an inspector's view: the
field's default in 0018 already gives them "approved"; this states it for any row left pending), and
the TMF Reference Model's milestones are loaded with the taxonomy, from the same committed JSON file as migration
0005 (`tmf_data/extract.py` reads them from the spreadsheet's "Milestones_Events & Description" sheet).

Self-contained (historical models only) and idempotent: milestones are matched by number, artifact links by
(artifact, level).
"""

import json
from pathlib import Path

from django.db import migrations

DATA_FILE = Path(__file__).resolve().parent.parent / "tmf_data" / "tmf_reference_model_v3.3.1.json"


def approve_existing(apps, schema_editor):
    apps.get_model("regulatory", "TmfDocument").objects.filter(qc_status="pending").update(qc_status="approved")


def load_milestones(apps, schema_editor):
    TmfMilestone = apps.get_model("regulatory", "TmfMilestone")
    TmfArtifact = apps.get_model("regulatory", "TmfArtifact")
    TmfArtifactMilestone = apps.get_model("regulatory", "TmfArtifactMilestone")
    data = json.loads(DATA_FILE.read_text(encoding="utf-8"))
    milestones = {
        m["number"]: TmfMilestone.objects.update_or_create(number=m["number"], defaults={
            "name": m["name"], "phase": m["phase"], "trial_definition": m["definitions"]["trial"],
            "country_definition": m["definitions"]["country"], "site_definition": m["definitions"]["site"]})[0]
        for m in data["milestones"]
    }
    artifacts = dict(TmfArtifact.objects.values_list("number", "pk"))
    for a in data["artifacts"]:
        for level, number in a["milestones"].items():
            if number is not None and a["number"] in artifacts:
                TmfArtifactMilestone.objects.update_or_create(
                    artifact_id=artifacts[a["number"]], level=level, defaults={"milestone": milestones[number]})


def unload_milestones(apps, schema_editor):
    apps.get_model("regulatory", "TmfArtifactMilestone").objects.all().delete()
    apps.get_model("regulatory", "TmfMilestone").objects.all().delete()


class Migration(migrations.Migration):
    dependencies = [("regulatory", "0018_tmf_qc_and_milestones")]

    operations = [
        migrations.RunPython(approve_existing, migrations.RunPython.noop),
        migrations.RunPython(load_milestones, unload_milestones),
    ]
