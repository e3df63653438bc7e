"""The TMF Reference Model v3.3.1 taxonomy loaded by migration 0005, and the `regulatory.tmf.artifact` selector."""

import importlib
import json
from pathlib import Path

import pytest
from django.apps import apps

from regulatory.models import TmfArtifact, TmfSection, TmfZone
from regulatory.tmf import UnknownTmfArtifactError, artifact

REPOSITORY = Path(__file__).resolve().parents[2]
DATA_FILE = REPOSITORY / "regulatory" / "tmf_data" / "tmf_reference_model_v3.3.1.json"
SPREADSHEET = REPOSITORY.parent / "shared" / "reference" / "TMF_Reference_Model_v3.3.1_2023-08-11.xlsx"
data_migration = importlib.import_module("regulatory.migrations.0005_load_tmf_reference_model")

# DOMAIN.md §5: the artifacts this product files itself, names as the spreadsheet spells them.
FILED_BY_THE_PRODUCT = {
    "02.01.02": "Protocol",
    "02.01.04": "Protocol Amendment",
    "02.02.03": "Informed Consent Form",
    "02.02.04": "Subject Information Sheet",
    "03.01.01": "Regulatory Submission",
    "03.01.02": "Regulatory Authority Decision",
    "04.01.01": "IRB or IEC Submission",
    "04.01.02": "IRB or IEC Decision",
    "04.04.01": "Relevant Communications",
}


def data_file():
    return json.loads(DATA_FILE.read_text(encoding="utf-8"))


def snapshot():
    return (
        list(TmfZone.objects.values_list()),
        list(TmfSection.objects.values_list()),
        list(TmfArtifact.objects.values_list()),
    )


def test_migrations_load_11_zones_48_sections_250_artifacts(db):
    assert (TmfZone.objects.count(), TmfSection.objects.count(), TmfArtifact.objects.count()) == (11, 48, 250)


@pytest.mark.parametrize(("number", "name"), FILED_BY_THE_PRODUCT.items())
def test_artifacts_the_product_files_exist_with_their_reference_model_names(db, number, name):
    assert TmfArtifact.objects.get(number=number).name == name


def test_every_number_starts_with_its_parents_number(db):
    for section in TmfSection.objects.select_related("zone"):
        assert section.number.startswith(f"{section.zone.number}."), section
    for item in TmfArtifact.objects.select_related("section"):
        assert item.number.startswith(f"{item.section.number}."), item


def test_names_definitions_core_and_level_flags_match_the_data_file(db):
    loaded = {a.number: a for a in TmfArtifact.objects.select_related("section")}
    for expected in data_file()["artifacts"]:
        item = loaded[expected["number"]]
        assert (item.section.number, item.name, item.definition, item.is_core, item.unique_id) == (
            expected["section"], expected["name"], expected["definition"], expected["core"], expected["unique_id"]
        )
        assert (item.trial_level, item.country_level, item.site_level) == tuple(expected["levels"].values())


def test_flags_of_a_sample_read_as_the_spreadsheet_shows_them(db):
    protocol = artifact("02.01.02")
    assert (protocol.is_core, protocol.trial_level, protocol.country_level, protocol.site_level) == (True,) * 4
    decision = artifact("04.01.02")
    assert (decision.trial_level, decision.country_level, decision.site_level) == (False, True, True)
    submission = artifact("03.01.01")
    assert (submission.is_core, submission.site_level) == (False, False)


def test_rerunning_the_data_migration_changes_nothing(db):
    before = snapshot()
    data_migration.load_reference_model(apps)
    assert snapshot() == before


def test_reversing_the_data_migration_deletes_the_taxonomy(db):
    # Migrating back to 0004 reverses 0019 first: the milestones and their links to the artifacts go before them.
    importlib.import_module("regulatory.migrations.0019_qc_existing_documents_and_milestones").unload_milestones(
        apps, None)
    data_migration.unload_reference_model(apps)
    assert (TmfZone.objects.count(), TmfSection.objects.count(), TmfArtifact.objects.count()) == (0, 0, 0)


def test_artifact_returns_the_artifact_with_its_section_and_zone(db):
    protocol = artifact("02.01.02")
    assert str(protocol) == "02.01.02 Protocol"
    assert str(protocol.section) == "02.01 Product and Trial Documentation"
    assert str(protocol.section.zone) == "02 Central Trial Documents"


def test_artifact_raises_a_clear_error_on_an_unknown_number(db):
    with pytest.raises(UnknownTmfArtifactError, match="'2.1.2' is not an artifact number"):
        artifact("2.1.2")


@pytest.mark.skipif(not SPREADSHEET.exists(), reason=f"the source spreadsheet is not beside the clone: {SPREADSHEET}")
def test_data_file_is_what_the_extraction_script_makes_from_the_spreadsheet():
    pytest.importorskip("openpyxl", reason="openpyxl (installed with Wagtail) reads the spreadsheet")
    extract = importlib.import_module("regulatory.tmf_data.extract")
    assert extract.dumps(extract.extract(SPREADSHEET)) == DATA_FILE.read_text(encoding="utf-8")
