"""HL7 FHIR (R5, R4B on request): the mapping of consent records, participants, the trial and its sites
(`mapping`), the export as a Bundle or NDJSON (`export`, `manage.py export_fhir`) and the read-only API for programs
with a bearer token (`api`, under /fhir/). docs/FHIR.md has the field-by-field table."""
