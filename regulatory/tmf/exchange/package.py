"""Reading an EMS package, ours or another system's, without trusting it: the container (hostile zips), the
inventory (size, entities, schema), each object and its files, and every file's integrity."""

from __future__ import annotations

import base64
import binascii
import contextlib
import datetime
import hashlib
import re
import zipfile
from dataclasses import dataclass, field
from urllib.parse import unquote

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _
from lxml import etree

from regulatory.models import TmfDocument

from .common import ALPHA2, EXCHANGE_XML, LEVELS, MONTHS, SRI_ALGORITHMS, STATE_STATUS, qname, schema_errors, xml_parser

# Hostile packages: refused above these (a TMF of a few thousand documents fits well within them).
MAX_ENTRIES = 20_000
MAX_TOTAL_BYTES = 4 * 1024**3  # uncompressed, all entries together
MAX_ENTRY_BYTES = 512 * 1024**2  # uncompressed, one entry
MAX_INVENTORY_BYTES = 32 * 1024**2  # exchange.xml
MAX_RATIO = 200  # uncompressed / compressed, for an entry over RATIO_FLOOR bytes
RATIO_FLOOR = 1024**2

# --- Reading a package --------------------------------------------------------------------------------------

@dataclass
class PackageFile:
    """One FILE of an OBJECT: where it is in the zip, its name, and the digests its INTEGRITY names."""

    path: str
    name: str
    digests: dict[str, str]


@dataclass
class PackageObject:
    """One OBJECT of exchange.xml, as read. `problems` make the whole package unusable (a file that cannot be
    checked); whether TrialDocs can file the object is `filing_problems`'s answer."""

    object_id: str
    level: str
    level_label: str
    country: str
    country_id: str
    site_code: str
    artifact_number: str
    version: str
    state: str
    title: str
    document_date: datetime.date | None
    files: list[PackageFile]
    size: int | None
    status: str
    series: str = ""
    problems: list[str] = field(default_factory=list)

    @property
    def file(self) -> PackageFile:
        return self.files[0]


@dataclass
class Inventory:
    study_id: str
    objects: list[PackageObject]


def _unsafe_name(name: str) -> bool:
    parts = name.split("/")
    return (not name or "\\" in name or "\x00" in name or name.startswith("/") or re.match(r"^[A-Za-z]:", name)
            is not None or any(part in ("..", ".") for part in parts) or len(name) > 1024)


def _container_problems(package: zipfile.ZipFile) -> list[str]:
    """Why the zip itself is refused, before any content is read."""
    entries = package.infolist()
    if len(entries) > MAX_ENTRIES:
        return [_("The package has too many entries (%(count)d, at most %(max)d).")
                % {"count": len(entries), "max": MAX_ENTRIES}]
    problems, total, seen = [], 0, set()
    for info in entries:
        name = info.filename
        if _unsafe_name(name):
            problems.append(_("Unsafe path in the package: %(name)s.") % {"name": name[:200]})
            continue
        if name.casefold() in seen:
            problems.append(_("The package holds %(name)s twice.") % {"name": name})
        seen.add(name.casefold())
        if info.flag_bits & 0x1:
            problems.append(_("Encrypted entry in the package: %(name)s.") % {"name": name})
        if (info.external_attr >> 16) & 0o170000 == 0o120000:
            problems.append(_("Symbolic link in the package: %(name)s.") % {"name": name})
        if info.file_size > MAX_ENTRY_BYTES:
            problems.append(_("%(name)s is too large once uncompressed.") % {"name": name})
        if info.file_size > RATIO_FLOOR and info.file_size > MAX_RATIO * max(info.compress_size, 1):
            problems.append(_("%(name)s is compressed suspiciously well (a zip bomb?).") % {"name": name})
        total += info.file_size
    if total > MAX_TOTAL_BYTES:
        problems.append(_("The package is too large once uncompressed (%(size)d MB, at most %(max)d MB).")
                        % {"size": total // 1024**2, "max": MAX_TOTAL_BYTES // 1024**2})
    return problems


def _read_inventory_bytes(package: zipfile.ZipFile) -> bytes:
    try:
        info = package.getinfo(EXCHANGE_XML)
    except KeyError:
        raise ValidationError(_("The package has no exchange.xml at its root.")) from None
    if info.file_size > MAX_INVENTORY_BYTES:
        raise ValidationError(_("exchange.xml is too large."))
    with package.open(info) as handle:
        raw = handle.read(MAX_INVENTORY_BYTES + 1)
    if len(raw) > MAX_INVENTORY_BYTES:  # the zip's directory understated the size
        raise ValidationError(_("exchange.xml is too large."))
    return raw


def _parse_xml(raw: bytes):
    """exchange.xml parsed and validated against the EMS schema, or ValidationError saying why not.

    A DOCTYPE or an entity declaration is refused before parsing (no entity expansion, no external entity, no
    DTD); the parser itself resolves none either and keeps libxml2's depth and size limits."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ValidationError(_("exchange.xml is not UTF-8.")) from None
    head = text[:200].lstrip("\ufeff")
    declared = re.match(r"<\?xml[^>]*encoding=[\"']([^\"']+)[\"']", head)
    if declared and declared.group(1).lower().replace("_", "-") not in ("utf-8", "utf8"):
        raise ValidationError(_("exchange.xml is not UTF-8."))
    if re.search(r"<!\s*(DOCTYPE|ENTITY)", text, re.IGNORECASE):
        raise ValidationError(_("exchange.xml declares a DOCTYPE or entities, which are refused."))
    try:
        root = etree.fromstring(raw, xml_parser())
    except etree.XMLSyntaxError as error:
        raise ValidationError(_("exchange.xml is not well-formed XML (%(error)s).") % {"error": error}) from None
    if root.tag != qname("BATCH"):
        raise ValidationError(_("exchange.xml is not an eTMF-EMS inventory (no BATCH in the EMS namespace)."))
    errors = schema_errors(root)
    if errors:
        raise ValidationError(errors)
    return root


def _text(element, name: str) -> str:
    child = element.find(qname(name))
    return (child.text or "").strip() if child is not None else ""


def _metadata(element) -> dict[str, str]:
    return {m.get("NAME", ""): (m.text or "").strip() for m in element.findall(qname("METADATA"))}


def _date(ems: str, iso: str) -> datetime.date | None:
    with contextlib.suppress(ValueError):
        return datetime.date.fromisoformat(iso)
    match = re.fullmatch(r"(\d{2})-([A-Za-z]{3})-(\d{4})", ems)
    if match and match.group(2).upper() in MONTHS:
        with contextlib.suppress(ValueError):
            return datetime.date(int(match.group(3)), MONTHS.index(match.group(2).upper()) + 1,
                                 int(match.group(1)))
    return None


def integrity_digests(value: str) -> dict[str, str]:
    """The digests (algorithm → hex) an INTEGRITY value names. The schema asks for Subresource Integrity:
    `sha256-<base64>` (or sha384, sha512; several separated by spaces; options after `?` ignored). A hex digest
    after the algorithm is read too, since some systems write it so. Anything else names no digest."""
    digests = {}
    for token in value.split():
        algorithm, _sep, encoded = token.partition("-")
        algorithm = algorithm.lower()
        if algorithm not in SRI_ALGORITHMS:
            continue
        encoded = encoded.split("?", 1)[0]
        length = SRI_ALGORITHMS[algorithm]
        raw = None
        if len(encoded) == 2 * length and re.fullmatch(r"[0-9a-fA-F]+", encoded):
            raw = bytes.fromhex(encoded)
        else:
            with contextlib.suppress(binascii.Error, ValueError):
                raw = base64.b64decode(encoded, validate=True)
        if raw is not None and len(raw) == length:
            digests[algorithm] = raw.hex()
    return digests


def _has_scheme(url: str) -> bool:
    return re.match(r"^[A-Za-z][A-Za-z0-9+.\-]*:", url) is not None and not re.match(r"^[A-Za-z]:", url)


def _read_file(element, object_id: str, meta: dict[str, str], problems: list[str]) -> PackageFile:
    url = _text(element, "CONTENTURL")
    path = url
    if _has_scheme(url):
        problems.append(_("Object %(id)s: its file is outside the package (%(url)s); only files inside the package "
                          "are read.") % {"id": object_id, "url": url[:200]})
        path = ""
    elif not url or _unsafe_name(url):
        problems.append(_("Object %(id)s: missing or unsafe file path.") % {"id": object_id})
        path = ""
    integrity = _text(element, "INTEGRITY")
    digests = integrity_digests(integrity)
    declared = meta.get("SHA256", "")
    if (re.fullmatch(r"[0-9a-fA-F]{64}", declared)
            and digests.setdefault("sha256", declared.lower()) != declared.lower()):
        problems.append(_("Object %(id)s: INTEGRITY and METADATA SHA256 give two different checksums.")
                            % {"id": object_id})
    if not digests:
        problems.append(_("Object %(id)s: INTEGRITY %(value)s gives no SHA-256, SHA-384 or SHA-512 checksum, so its "
                          "file cannot be checked.") % {"id": object_id, "value": integrity[:100] or "—"})
    return PackageFile(path=path, name=_text(element, "FILENAME") or url.rsplit("/", 1)[-1], digests=digests)


def _read_object(element) -> PackageObject:
    meta = _metadata(element)
    object_id = _text(element, "OBJECTID") or "?"
    problems: list[str] = []
    level_label = _text(element, "OBJECTLEVEL")
    level = {label: code for code, label in LEVELS.items()}.get(level_label, "")
    country_id = _text(element, "COUNTRYID")
    country = meta.get("COUNTRY") or ALPHA2.get(country_id, "")
    state = _text(element, "OBJECTVERSIONSTATE")
    status = meta.get("STATUS", "")
    if status not in TmfDocument.Status.values:
        status = STATE_STATUS.get(state, "")
    if not status:
        problems.append(_("Object %(id)s: unknown state %(state)s.") % {"id": object_id, "state": state or "—"})
    file_elements = element.findall(qname("FILE"))
    # METADATA SHA256 (ours) speaks of the object's one file; beside several files it names none of them.
    file_meta = meta if len(file_elements) == 1 else {}
    files = [_read_file(file_element, object_id, file_meta, problems) for file_element in file_elements]
    size = meta.get("FILESIZE", "")
    version = meta["VERSION"] if "VERSION" in meta else _text(element, "OBJECTVERSION")
    title = _text(element, "OBJECTTITLE") or _text(element, "SUBARTIFACT") or (files[0].name if files else "")
    return PackageObject(
        object_id=object_id, level=level, level_label=level_label, country=country, country_id=country_id,
        site_code=_text(element, "SITEID"), artifact_number=_text(element, "ARTIFACTNUMBER"), version=version,
        state=state, title=title, document_date=_date(_text(element, "ARTIFACTDATE"), meta.get("DOCUMENTDATE", "")),
        files=files, size=int(size) if size.isdigit() and len(files) == 1 else None, status=status,
        series=meta.get("SERIES", ""), problems=problems)


def read_inventory(package: zipfile.ZipFile) -> Inventory:
    root = _parse_xml(_read_inventory_bytes(package))
    return Inventory(study_id=root.get("STUDYID", ""),
                     objects=[_read_object(element) for element in root.findall(qname("OBJECT"))])


def _hash_entry(package: zipfile.ZipFile, name: str, algorithms) -> tuple[dict[str, str], int]:
    hashers, size = {algorithm: hashlib.new(algorithm) for algorithm in algorithms}, 0
    with package.open(name) as handle:
        for chunk in iter(lambda: handle.read(1024 * 1024), b""):
            for hasher in hashers.values():
                hasher.update(chunk)
            size += len(chunk)
    return {algorithm: hasher.hexdigest() for algorithm, hasher in hashers.items()}, size


def open_package(path) -> zipfile.ZipFile:
    try:
        return zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError, ValueError):
        raise ValidationError(_("This file is not a readable zip package.")) from None


def resolve_paths(inventory: Inventory, entries) -> None:
    """CONTENTURL is a URL: a path written percent-encoded (`Medical%20License/…`) names the entry it decodes to."""
    for item in inventory.objects:
        for package_file in item.files:
            if package_file.path and package_file.path not in entries:
                decoded = unquote(package_file.path)
                if decoded in entries and not _unsafe_name(decoded):
                    package_file.path = decoded


def verify_package(path) -> list[str]:
    """What is wrong with the package at `path`: an unsafe container; a missing, malformed or schema-invalid
    exchange.xml; a file whose size or checksum differs from the inventory, that the inventory gives no usable
    checksum for, or that lies outside the package; a file not in the inventory or an inventory entry without
    its file. Empty when the package is intact and valid."""
    try:
        package = open_package(path)
    except ValidationError as error:
        return list(error.messages)
    with package:
        problems = _container_problems(package)
        if problems:
            return problems
        try:
            inventory = read_inventory(package)
        except ValidationError as error:
            return list(error.messages)
        entries = {info.filename: info for info in package.infolist() if not info.is_dir()}
        resolve_paths(inventory, entries)
        listed = set()
        for item in inventory.objects:
            problems.extend(item.problems)
            for package_file in item.files:
                problems.extend(_file_problems(package, package_file, item, entries, listed))
        for name in sorted(set(entries) - listed - {EXCHANGE_XML}):
            problems.append(_("%(path)s is in the package but not listed in exchange.xml.") % {"path": name})
    return problems


def _file_problems(package, package_file: PackageFile, item: PackageObject, entries, listed: set) -> list[str]:
    path = package_file.path
    if not path or not package_file.digests:
        return []
    if path in listed:
        return [_("%(path)s is listed twice in exchange.xml.") % {"path": path}]
    listed.add(path)
    if path not in entries:
        return [_("%(path)s is listed in exchange.xml but missing from the package.") % {"path": path}]
    try:
        digests, size = _hash_entry(package, path, package_file.digests)
    except (zipfile.BadZipFile, OSError, EOFError, ValueError):
        return [_("%(path)s cannot be read (damaged).") % {"path": path}]
    problems = []
    if item.size is not None and size != item.size:
        problems.append(_("%(path)s has %(size)d bytes where exchange.xml says %(expected)d.")
                        % {"path": path, "size": size, "expected": item.size})
    if digests != package_file.digests:
        problems.append(_("%(path)s does not match its SHA-256 checksum in exchange.xml.") % {"path": path}
                        if set(package_file.digests) == {"sha256"} else
                        _("%(path)s does not match its checksum in exchange.xml.") % {"path": path})
    return problems
