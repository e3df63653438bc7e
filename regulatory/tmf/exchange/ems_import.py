"""Importing an EMS package into a trial: what can be filed and why not, then every fileable object filed in one
transaction (or nothing), audited."""

from __future__ import annotations

import hashlib
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path

from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.db import transaction
from django.utils.text import get_valid_filename
from django.utils.translation import gettext as _

from regulatory import audit
from regulatory.models import QcStatus, TmfArtifact, TmfDocument, TmfLevel, TrialPage

from .common import file_sha256
from .package import PackageObject, open_package, read_inventory, resolve_paths, verify_package


def _artifacts() -> dict[str, TmfArtifact]:
    return {artifact.number: artifact for artifact in TmfArtifact.objects.select_related("section__zone")}


def filing_problems(item: PackageObject, package: zipfile.ZipFile,
                    artifacts: dict[str, TmfArtifact] | None = None) -> list[str]:
    """Why TrialDocs cannot file this object of an intact package, whatever the trial: an artifact the TMF
    Reference Model v3.3.1 lacks, a level at which the Model does not file that artifact, more than one file, a
    country-level object without a country TrialDocs knows, no document date, a file of a type TrialDocs does
    not file or whose content does not match its extension. Each message names the object."""
    from regulatory.tmf.uploads import ALLOWED_TYPES

    labels = {"id": item.object_id, "number": item.artifact_number or "—", "level": item.level_label or "—"}
    artifacts = _artifacts() if artifacts is None else artifacts
    artifact = artifacts.get(item.artifact_number)
    if artifact is None:
        return [_("Object %(id)s: %(number)s is not an artifact of the TMF Reference Model 3.3.1.") % labels]
    allowed = {TmfLevel.TRIAL: artifact.trial_level, TmfLevel.COUNTRY: artifact.country_level,
               TmfLevel.SITE: artifact.site_level}
    if not item.level:
        return [_("Object %(id)s: unknown level %(level)s.") % labels]
    if not allowed[item.level]:
        return [_("Object %(id)s: the TMF Reference Model does not file %(number)s at %(level)s level.") % labels]
    problems = []
    if len(item.files) != 1:
        problems.append(_("Object %(id)s has %(count)d files; TrialDocs files one file per document.")
                        % {**labels, "count": len(item.files)})
    if item.level == TmfLevel.COUNTRY and not re.fullmatch(r"[A-Z]{2}", item.country):
        problems.append(_("Object %(id)s: a country-level document needs a country TrialDocs knows (COUNTRYID "
                          "%(country)s).") % {**labels, "country": item.country_id or "—"})
    if item.document_date is None:
        problems.append(_("Object %(id)s has no valid ARTIFACTDATE, and TrialDocs files every document with its "
                          "date.") % labels)
    if len(item.files) == 1:
        name = item.file.name or item.file.path
        extension = name.rsplit(".", 1)[-1].lower() if "." in name else ""
        if extension not in ALLOWED_TYPES:
            problems.append(_("Object %(id)s: %(name)s is not a type TrialDocs files (PDF, Word .docx, Excel .xlsx, "
                              "OpenDocument text, PNG, JPEG or text).") % {**labels, "name": name[:200]})
        else:
            with package.open(item.file.path) as handle:
                head = handle.read(16)
            if not head.startswith(ALLOWED_TYPES[extension]) or (extension == "txt" and b"\x00" in head):
                problems.append(_("Object %(id)s: the content of %(name)s does not match its extension.")
                                % {**labels, "name": name[:200]})
    return problems


# --- Import -------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class ImportResult:
    """What an import filed, and the objects it did not file, one message each naming the object and why."""

    documents: list[TmfDocument]
    refused: list[str]


def import_package(path, *, trial: TrialPage, actor) -> ImportResult:
    """File the documents of an intact, schema-valid package in `trial`, as uploaded documents, in one
    transaction with their audit entries, and list the objects it cannot file (`filing_problems`).

    Refused whole (ValidationError, nothing written) when the package is not intact or not valid
    (`verify_package`), names a site code the trial does not have, or holds no object that can be filed."""
    problems = verify_package(path)
    if problems:
        raise ValidationError(problems)
    with open_package(path) as package:
        inventory = read_inventory(package)
        resolve_paths(inventory, {info.filename for info in package.infolist() if not info.is_dir()})
        sites = {site.code: site for site in trial.sites.all()}
        unknown_sites = sorted({item.site_code or "—" for item in inventory.objects
                                if item.level == TmfLevel.SITE and item.site_code not in sites})
        if unknown_sites:
            raise ValidationError(_("These site codes are not sites of %(trial)s: %(codes)s.")
                                  % {"trial": trial.nct_number, "codes": ", ".join(unknown_sites)})
        prepared, refused, artifacts = [], [], _artifacts()
        for item in inventory.objects:
            reasons = filing_problems(item, package, artifacts)
            if reasons:
                refused.extend(reasons)
                continue
            site = sites.get(item.site_code) if item.level == TmfLevel.SITE else None
            prepared.append((item, artifacts[item.artifact_number], site, site.country if site else item.country))
        if not prepared:
            raise ValidationError([_("No document of this package can be filed in %(trial)s.")
                                   % {"trial": trial.nct_number}, *refused])
        documents = _write_imported(package, prepared, trial=trial, actor=actor, path=path,
                                    study_id=inventory.study_id, refused=refused)
    return ImportResult(documents=documents, refused=refused)


def _write_imported(package: zipfile.ZipFile, prepared: list, *, trial, actor, path, study_id,
                    refused: list[str]) -> list[TmfDocument]:
    from cms.files import StorageFailed, save_whole

    user = actor if getattr(actor, "is_authenticated", False) else None
    stored: list[TmfDocument] = []
    package_digest = file_sha256(Path(path))
    try:
        with transaction.atomic():
            for item, artifact, site, country in prepared:
                data = package.read(item.file.path)
                digests = {algorithm: hashlib.new(algorithm, data).hexdigest() for algorithm in item.file.digests}
                if digests != item.file.digests:  # changed since verification
                    raise ValidationError(_("%(path)s does not match its checksum in exchange.xml.")
                                          % {"path": item.file.path})
                name = get_valid_filename(item.file.name.rsplit("/", 1)[-1])[:200] or "document"
                document = TmfDocument(
                    trial=trial, artifact=artifact, level=item.level, country=country, site=site,
                    title=item.title[:255], document_date=item.document_date, version=item.version[:20],
                    status=item.status, series=item.series[:120], file_name=name,
                    sha256=hashlib.sha256(data).hexdigest(), filed_by=user, search_text=item.title,
                    qc_status=QcStatus.PENDING)
                try:
                    save_whole(document.file, name, ContentFile(data))
                except StorageFailed as error:
                    raise ValidationError(_("%(name)s could not be stored (%(error)s); nothing was imported.")
                                          % {"name": name, "error": error}) from error
                stored.append(document)
                document.save()
                audit.record(actor=actor, action="tmf.document_imported", obj=document, changes={
                    "artifact": [None, artifact.number], "level": [None, item.level],
                    "site": [None, site.code if site else ""], "country": [None, country],
                    "title": [None, document.title], "version": [None, document.version],
                    "status": [None, document.status], "document_date": [None, document.document_date],
                    "file": [None, name], "sha256": [None, document.sha256],
                    "source": [None, f"{study_id} {item.object_id}"], "qc_status": [None, document.qc_status]})
            audit.record(actor=actor, action="tmf.package_imported", obj=trial, changes={
                "documents": [None, len(stored)], "package_sha256": [None, package_digest],
                "source_study": [None, study_id], "file": [None, Path(str(path)).name],
                "refused": [None, refused]})
    except BaseException:
        for document in stored:
            if document.file:
                document.file.delete(save=False)
        raise
    return stored


def filing_report(path) -> tuple[int, list[str]]:
    """For a package `verify_package` accepts: how many objects it holds, and why TrialDocs would not file some of
    them (`filing_problems`), whatever the trial. Reads nothing but exchange.xml and the first bytes of files."""
    with open_package(path) as package:
        inventory = read_inventory(package)
        resolve_paths(inventory, {info.filename for info in package.infolist() if not info.is_dir()})
        artifacts = _artifacts()
        return len(inventory.objects), [problem for item in inventory.objects
                                        for problem in filing_problems(item, package, artifacts)]
