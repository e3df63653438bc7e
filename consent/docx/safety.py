"""Package defences, run before python-docx sees the bytes of an upload.

Uploads are untrusted. The zip is checked (size, entry count, declared and actual sizes, ratio, names, macros,
encryption, DTDs, external relationships, XML volume) before python-docx opens it, so a hostile file costs
milliseconds and a few megabytes, and every failure is a `DocxRefused` with a sentence for the user.
Pending revisions (tracked insertions, deletions, comments) are counted here too, so the reader can refuse
the file or report them.
"""

from __future__ import annotations

import io
import posixpath
import re
import struct
import zipfile
import zlib

from docx.oxml.ns import qn
from lxml import etree

from .markers import W

MAX_UPLOAD_BYTES = 20 * 1024 * 1024
MAX_UNCOMPRESSED_BYTES = 50 * 1024 * 1024
MAX_COMPRESSION_RATIO = 100
MAX_ENTRIES = 2000
MAX_XML_TAGS = 400_000  # about 4x the longest real protocol here; bounds parse time and tree memory
RATIO_FLOOR_BYTES = 256 * 1024  # a small entry cannot bomb; text parts under this size may compress very well
OLE2_SIGNATURE = bytes.fromhex("D0CF11E0A1B11AE1")
_CHUNK = 64 * 1024
_KEPT_PART = re.compile(
    r"\[Content_Types\]\.xml|.*\.rels|word/(?:document|header\d*|footer\d*|footnotes|endnotes|comments\d*)\.xml")
_REL_NS = "{http://schemas.openxmlformats.org/package/2006/relationships}"


class DocxRefused(Exception):
    """A Word file we will not import; `reason` is a sentence to show the user as is."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def checked_parts(data: bytes) -> dict[str, etree._Element]:
    """Validate the package and return its XML parts, parsed without DTDs, entities or network."""
    _check_envelope(data)
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError, struct.error) as exc:
        raise DocxRefused("Le fichier n'est pas une archive .docx valide (archive ZIP illisible ou tronquée).") from exc
    with archive:
        infos = archive.infolist()
        _check_entries(infos)
        raw = _read_entries(archive, infos)
    tags = sum(content.count(b"<") for content in raw.values())
    if tags > MAX_XML_TAGS:
        raise DocxRefused(f"Le document est trop volumineux pour être importé ({tags} balises XML, maximum "
                          f"{MAX_XML_TAGS}) : découpez-le ou retirez le contenu inutile.")
    trees = {}
    for name in list(raw):
        tree = _parse_part(name, raw.pop(name))
        if _KEPT_PART.fullmatch(name):  # the others are only checked: drop them to keep memory low
            trees[name] = tree
    _check_content_types(trees["[Content_Types].xml"])
    _check_relationships(trees)
    return trees


def _check_envelope(data: bytes) -> None:
    """Cheap checks on the raw bytes: size, legacy/encrypted OLE2 container, zip signature and entry count."""
    if not data:
        raise DocxRefused("Le fichier est vide.")
    if len(data) > MAX_UPLOAD_BYTES:
        raise DocxRefused(f"Le fichier dépasse la taille maximale de {MAX_UPLOAD_BYTES // (1024 * 1024)} Mo "
                          f"({len(data) / (1024 * 1024):.1f} Mo).")
    if data.startswith(OLE2_SIGNATURE):
        raise DocxRefused("Le fichier est chiffré (protégé par un mot de passe) ou au format Word 97-2003 (.doc). "
                          "Retirez le mot de passe et enregistrez-le au format .docx.")
    if not data.startswith(b"PK"):
        raise DocxRefused("Le fichier n'est pas un document Word (.docx) : ce n'est pas une archive ZIP.")
    entries = _declared_entry_count(data)
    if entries is not None and entries > MAX_ENTRIES:
        raise DocxRefused(f"L'archive contient trop de fichiers ({entries} > {MAX_ENTRIES}).")


def _declared_entry_count(data: bytes) -> int | None:
    """Entry count from the end-of-central-directory record, read before zipfile parses a huge directory."""
    position = data.rfind(b"PK\x05\x06", max(0, len(data) - 65557))
    if position < 0 or position + 22 > len(data):
        return None
    (count,) = struct.unpack("<H", data[position + 10:position + 12])
    return None if count == 0xFFFF else count


def _check_entries(infos: list[zipfile.ZipInfo]) -> None:
    """Refuse bombs, traversal names, encrypted or exotic entries and macro payloads from the directory alone."""
    if len(infos) > MAX_ENTRIES:
        raise DocxRefused(f"L'archive contient trop de fichiers ({len(infos)} > {MAX_ENTRIES}).")
    if sum(info.file_size for info in infos) > MAX_UNCOMPRESSED_BYTES:
        raise DocxRefused(_bomb_reason())
    names: set[str] = set()
    for info in infos:
        _check_name(info.filename, names)
        if info.flag_bits & 0x1:
            raise DocxRefused("Le fichier contient des parties chiffrées : retirez la protection et réessayez.")
        if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            raise DocxRefused(f"Méthode de compression non prise en charge pour « {info.filename} ».")
        ratio = info.file_size / max(info.compress_size, 1)
        if info.file_size > RATIO_FLOOR_BYTES and ratio > MAX_COMPRESSION_RATIO:
            raise DocxRefused(f"Taux de compression anormal pour « {info.filename} » ({ratio:.0f}:1, maximum "
                              f"{MAX_COMPRESSION_RATIO}:1) : fichier refusé (bombe de décompression probable).")
    lowered = {name.lower() for name in names}
    if any(name.endswith(("vbaproject.bin", "vbadata.xml")) for name in lowered):
        raise DocxRefused(_macro_reason())
    if any(name.startswith("word/activex/") for name in lowered):
        raise DocxRefused("Le document contient des contrôles ActiveX : enregistrez-le sans ces contrôles.")
    if "[Content_Types].xml" not in names:
        raise DocxRefused("Le fichier n'est pas un document Word (.docx) : il manque [Content_Types].xml.")
    if "word/document.xml" not in names:
        raise DocxRefused("Le fichier n'est pas un document Word (.docx) : il ne contient pas word/document.xml.")


def _check_name(name: str, seen: set[str]) -> None:
    """Zip entry names must stay inside the package and be unique (duplicates let parsers disagree)."""
    parts = name.split("/")
    if (not name or name.startswith("/") or "\\" in name or "\x00" in name or ".." in parts
            or re.match(r"^[A-Za-z]:", name)):
        raise DocxRefused(f"Nom de fichier dangereux dans l'archive : « {name[:80]} ».")
    if name in seen:
        raise DocxRefused(f"L'archive contient deux fois « {name[:80]} ».")
    seen.add(name)


def _bomb_reason() -> str:
    return (f"Le fichier se décompresse en plus de {MAX_UNCOMPRESSED_BYTES // (1024 * 1024)} Mo : "
            "fichier refusé (bombe de décompression probable).")


def _macro_reason() -> str:
    return ("Le document contient des macros (fichier .docm, éventuellement renommé en .docx). "
            "Enregistrez-le au format « Document Word (.docx) » sans macros.")


def _read_entries(archive: zipfile.ZipFile, infos: list[zipfile.ZipInfo]) -> dict[str, bytes]:
    """Decompress every entry in chunks, enforcing actual sizes; keep only the XML parts in memory."""
    kept: dict[str, bytes] = {}
    total = 0
    for info in infos:
        if info.is_dir():
            continue
        chunks: list[bytes] = []
        size = 0
        keep = info.filename.lower().endswith((".xml", ".rels"))
        try:
            with archive.open(info) as stream:
                while chunk := stream.read(_CHUNK):
                    size += len(chunk)
                    total += len(chunk)
                    if size > info.file_size or total > MAX_UNCOMPRESSED_BYTES:
                        raise DocxRefused(_bomb_reason())
                    if keep or (size == len(chunk) and _looks_like_xml(info.filename, chunk)):
                        keep = True
                        chunks.append(chunk)
        except (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError, RuntimeError,
                NotImplementedError) as exc:
            raise DocxRefused(f"L'archive est endommagée (« {info.filename[:80]} » illisible).") from exc
        if keep:
            kept[info.filename] = b"".join(chunks)
    return kept


def _looks_like_xml(name: str, head: bytes) -> bool:
    """Parts python-docx may parse even without an .xml name; SVG images legitimately carry DOCTYPEs."""
    if name.lower().endswith(".svg"):
        return False
    stripped = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    return stripped.startswith((b"<?xml", b"<", b"\xff\xfe<", b"\xfe\xff\x00<"))


def _parse_part(name: str, content: bytes) -> etree._Element:
    """Parse with entity resolution, DTD loading and network off; any DTD at all is refused."""
    if _has_dtd(content):
        raise DocxRefused(_dtd_reason(name))
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, dtd_validation=False,
                             huge_tree=False)
    try:
        root = etree.fromstring(content, parser)  # noqa: S320 - DTDs refused above, entities and network off
    except etree.XMLSyntaxError as exc:
        raise DocxRefused(f"Le document contient du XML invalide (« {name[:80]} »).") from exc
    if root.getroottree().docinfo.doctype:
        raise DocxRefused(_dtd_reason(name))
    return root


def _has_dtd(content: bytes) -> bool:
    text = content
    if content[:2] in (b"\xff\xfe", b"\xfe\xff") or b"\x00" in content[:4]:
        text = content.decode("utf-16", errors="ignore").encode("utf-8")
    return b"<!DOCTYPE" in text or b"<!ENTITY" in text


def _dtd_reason(name: str) -> str:
    return (f"Le document contient une déclaration DOCTYPE/ENTITY dans « {name[:80]} » (procédé utilisé pour "
            "attaquer les serveurs) : fichier refusé.")


def _check_content_types(root: etree._Element) -> None:
    """Macro-enabled types refuse the file even when renamed .docx; templates get a specific sentence."""
    for entry in root:
        content_type = (entry.get("ContentType") or "").lower()
        if "macroenabled" in content_type or "vbaproject" in content_type:
            raise DocxRefused(_macro_reason())
        if entry.get("PartName", "").lower() == "/word/document.xml":
            if "wordprocessingml.template" in content_type:
                raise DocxRefused("Le fichier est un modèle Word (.dotx) : enregistrez-le comme document (.docx).")
            if "wordprocessingml.document.main" not in content_type:
                raise DocxRefused("Le fichier n'est pas un document Word (.docx) : type de contenu inattendu.")


_SETTINGS_RELS = "word/_rels/settings.xml.rels"


def _check_relationships(trees: dict[str, etree._Element]) -> None:
    """Only ordinary hyperlinks, and the attached template named in the settings (dropped: see
    `attached_templates`), may point outside the package; internal targets must stay inside it."""
    for name, root in trees.items():
        if not name.endswith(".rels"):
            continue
        base = posixpath.dirname(posixpath.dirname(name))
        for rel in root.iter(f"{_REL_NS}Relationship"):
            kind = (rel.get("Type") or "").rsplit("/", 1)[-1]
            target = rel.get("Target") or ""
            if kind.lower() == "vbaproject":
                raise DocxRefused(_macro_reason())
            if (rel.get("TargetMode") or "").lower() == "external":
                if kind != "hyperlink" and not (kind == "attachedTemplate" and name == _SETTINGS_RELS):
                    raise DocxRefused(f"Le document charge une ressource externe ({kind} → {target[:100]}) : "
                                      "fichier refusé. Incorporez le contenu ou supprimez le lien.")
            elif _escapes_package(base, target):
                raise DocxRefused(f"Le document désigne un fichier hors de l'archive ({target[:100]}).")


def attached_templates(trees: dict[str, etree._Element]) -> list[str]:
    """Targets of the document's attached template (a .dotx/.dotm on the author's PC or a share: every document
    made from a corporate template names one). Word only uses it to offer the template's styles and macros when
    editing; the text never depends on it, nothing here ever opens it, and the version keeps no copy of the
    upload, so the link is dropped with a note rather than the file refused."""
    root = trees.get(_SETTINGS_RELS)
    if root is None:
        return []
    return [rel.get("Target") or "" for rel in root.iter(f"{_REL_NS}Relationship")
            if (rel.get("Type") or "").rsplit("/", 1)[-1] == "attachedTemplate"
            and (rel.get("TargetMode") or "").lower() == "external"]


def _escapes_package(base: str, target: str) -> bool:
    path = target.lstrip("/") if target.startswith("/") else posixpath.join(base, target)
    return posixpath.normpath(path or ".").startswith("..")


def count_revisions(trees: dict[str, etree._Element]) -> dict[str, int]:
    """Count pending insertions, deletions and comments in every story part (body, headers, footers, notes)."""
    insertions = deletions = 0
    referenced: set[str] = set()
    for name, root in trees.items():
        if not re.fullmatch(r"word/(?:document|header\d*|footer\d*|footnotes|endnotes)\.xml", name):
            continue
        insertions += sum(1 for _ in root.iter(W["ins"], W["moveTo"]))
        deletions += sum(1 for _ in root.iter(W["del"], W["moveFrom"]))
        referenced.update(el.get(qn("w:id"), "") for el in root.iter(W["commentRangeStart"], W["commentReference"]))
    written = sum(sum(1 for _ in root.iter(W["comment"])) for name, root in trees.items()
                  if re.fullmatch(r"word/comments\d*\.xml", name))
    return {"insertions": insertions, "deletions": deletions, "comments": max(written, len(referenced))}


def revision_reason(counts: dict[str, int]) -> str:
    """French sentence naming every kind of pending revision, so the author knows what to resolve in Word."""
    return (f"Le document contient {plural(counts['insertions'], 'insertion')}, "
            f"{plural(counts['deletions'], 'suppression')} et {plural(counts['comments'], 'commentaire')} "
            "non résolus (suivi des modifications). Acceptez ou refusez les modifications et supprimez les "
            "commentaires dans Word, puis importez de nouveau le fichier.")


def plural(n: int, word: str) -> str:
    return f"{n} {word}{'s' if n > 1 else ''}"
