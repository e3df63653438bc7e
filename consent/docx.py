"""Word (.docx) in and out for consent-form versions, in the neutral block format of `consent/blocks.py`.

Why it is built this way:

* Uploads are untrusted. The zip is checked (size, entry count, declared and actual sizes, ratio, names,
  macros, encryption, DTDs, external relationships, XML volume) before python-docx opens it, so a hostile file
  costs milliseconds and a few megabytes, and every failure is a `DocxRefused` with a sentence for the user.
* Tracked changes and comments are never flattened silently: they refuse the import unless the caller says
  `allow_tracked_changes=True`, and then the counts travel in `ImportResult.tracked_changes` (the text read is
  the document with every change accepted: insertions kept, deletions dropped).
* Text is read from the XML, not from `Paragraph.text`, which drops `w:ins` and content controls.

Heuristics for documents we did not write (documented because users will meet them):

* Heading: a paragraph style named "Heading N"/"Titre N"/... (anywhere in its `basedOn` chain, so "02Heading 2"
  or a localised name works), or an `outlineLvl` on the paragraph or its styles, or "Title" (levels past 3 are
  read as 3). A short line (<= 100 characters, >= 4 letters, not ending with . , ;) whose visible runs are all
  bold is a level-2 heading.
* List: a paragraph numbered through `numPr` (direct or from its style); `numFmt` bullet/none means bullet, any
  other format numbered. Consecutive items of the same numbering instance form one list block.
* Consent statement: a line offering an accept and a refuse choice ("☐ Oui ☐ Non", "_____ Yes _____ No",
  "☐ J'accepte … ☐ Je n'accepte pas …"), or two successive tick-box lines starting with accept then refuse
  words. The statement is the text before the first box, else the paragraph just above. It is mandatory only
  when its text says so (obligatoire/mandatory/required): a form that offers "No" is usually optional.
* Tick box: a line starting with ☐ ☑ ☒ □ ❑ (Wingdings boxes, `w14:checkbox` controls and legacy FORMCHECKBOX
  fields are turned into these glyphs first). A pre-ticked box is reported in `unmapped` (the state is not kept).
* Blank to fill: underscores (____), dotted leaders (..... or ……) or an empty FORMTEXT field; each text before a
  blank becomes a label, text after the last blank a paragraph. A line that is only a blank takes the paragraph
  above as its label.
* Signature: a label (<= 100 characters, <= 12 words, not ending like a sentence) naming a signature (Signature,
  Signé(e), Signed), not a "signature page" title; in tables, a cell starting with such a word turns the table
  into a signature grid (statements become paragraphs, each "Signature of X" cell a signature block, Name/Date
  cells are dropped).
  Role: the earliest role word in the label (investigateur/investigator/médecin → investigator; proche,
  représentant, LAR, parent, tuteur, guardian, référent… → surrogate; témoin/witness → witness; participant,
  patient, minor… → participant), else in the statement row above (grids), else in the nearest heading above,
  else participant.
* Consent split: the consent part starts at the most prominent block announcing it (/formulaire de
  consentement|consentement (libre et) éclairé|recueil du consentement|consent form|consent document|signature
  page|page de signature/i): level-1 headings before level-2 and 3, headings before short (<= 80 characters)
  paragraphs, the earliest among equals, and only where some non-heading content comes before it. Without one,
  everything is information and consent is empty.

Documents written by `export_docx` carry their own paragraph styles ("TrialDocs …"), table captions
("TrialDocs:…") and two bookmarks marking where the body and the consent part start: those are read exactly, so
`import_docx(export_docx(...))` gives back the same blocks.
"""

from __future__ import annotations

import html
import io
import logging
import posixpath
import re
import struct
import zipfile
import zlib
from collections import Counter
from dataclasses import dataclass
from html.parser import HTMLParser
from typing import Any

import docx
from docx.enum.style import WD_STYLE_TYPE
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Cm, Pt
from lxml import etree

logger = logging.getLogger(__name__)

MAX_UPLOAD_BYTES = 20 * 1024 * 1024
MAX_UNCOMPRESSED_BYTES = 50 * 1024 * 1024
MAX_COMPRESSION_RATIO = 100
MAX_ENTRIES = 2000
MAX_XML_TAGS = 400_000  # about 4x the longest real protocol here; bounds parse time and tree memory
RATIO_FLOOR_BYTES = 256 * 1024  # a small entry cannot bomb; text parts under this size may compress very well
OLE2_SIGNATURE = bytes.fromhex("D0CF11E0A1B11AE1")
_CHUNK = 64 * 1024

BODY_BOOKMARK = "TrialDocs_body"
CONSENT_BOOKMARK = "TrialDocs_consent"
STYLE_PARAGRAPH = "TrialDocs Texte"
STYLE_STATEMENT = "TrialDocs Déclaration"
STYLE_STATEMENT_MANDATORY = "TrialDocs Déclaration obligatoire"
STYLE_CHOICES = "TrialDocs Choix"
STYLE_CHECKBOX = "TrialDocs Case à cocher"
STYLE_FILL_IN = "TrialDocs Champ à remplir"
_OWN_STYLES = {
    STYLE_PARAGRAPH: "TrialDocsTexte",
    STYLE_STATEMENT: "TrialDocsDeclaration",
    STYLE_STATEMENT_MANDATORY: "TrialDocsDeclarationObligatoire",
    STYLE_CHOICES: "TrialDocsChoix",
    STYLE_CHECKBOX: "TrialDocsCaseACocher",
    STYLE_FILL_IN: "TrialDocsChampARemplir",
}
CAPTION_TABLE = "TrialDocs:table"
CAPTION_SIGNATURE = "TrialDocs:signature:"
ROLES = ("participant", "surrogate", "investigator", "witness")
_MAX_NOTES_PER_KIND = 20

W = {name: qn(f"w:{name}") for name in (
    "p", "r", "t", "tbl", "tr", "tc", "sdt", "sdtContent", "sdtPr", "customXml", "smartTag", "hyperlink",
    "ins", "del", "moveTo", "moveFrom", "fldSimple", "dir", "bdo", "bookmarkStart", "rPr", "pPr", "tab", "ptab",
    "br", "cr", "noBreakHyphen", "softHyphen", "sym", "fldChar", "instrText", "drawing", "pict", "object",
    "footnoteReference", "endnoteReference", "b", "i", "vanish", "rStyle", "rFonts", "pStyle", "numPr", "numId",
    "ilvl", "outlineLvl", "pageBreakBefore", "style", "name", "basedOn", "abstractNum", "abstractNumId", "num",
    "lvl", "numFmt", "lvlOverride", "numStyleLink", "comment", "commentRangeStart", "commentReference", "altChunk",
    "tblPr", "tblCaption", "trPr", "tblHeader", "tcPr", "gridSpan", "vMerge", "ffData", "checkBox", "checked",
    "default", "showingPlcHdr", "footnote", "endnote", "rPrChange", "pPrChange", "sectPrChange", "tblPrChange",
    "trPrChange", "tcPrChange", "gridAfter", "bookmarkEnd",
)}
_VAL = qn("w:val")
_W14 = "http://schemas.microsoft.com/office/word/2010/wordml"
_MC_ALTERNATE = "{http://schemas.openxmlformats.org/markup-compatibility/2006}AlternateContent"
_MATH = "{http://schemas.openxmlformats.org/officeDocument/2006/math}"
_REL_NS = "{http://schemas.openxmlformats.org/package/2006/relationships}"

_BOXES = "☐☑☒□❑❒◻⬜"
_CHECKED_BOXES = "☑☒"
_WINGDINGS = {"o": "□", "q": "❑", "¨": "☐", "þ": "☑", "ý": "☒", "x": "☒"}
_WINGDINGS_SYM = {0xA8: "☐", 0x6F: "□", 0x71: "❑", 0xFE: "☑", 0xFD: "☒", 0x78: "☒"}
_PAGE = "\f"
_KEPT_PART = re.compile(
    r"\[Content_Types\]\.xml|.*\.rels|word/(?:document|header\d*|footer\d*|footnotes|endnotes|comments\d*)\.xml")

_HEADING_NAME = re.compile(
    r"(?:heading|titre|título|titulo|titolo|überschrift|kop|rubrik|nagłówek|заголовок)\s*([1-9])\b", re.I)
_TITLE_NAME = re.compile(r"^(?:title|titre)$", re.I)
_TOC_NAME = re.compile(r"^(?:toc|tdm|table of figures|table des illustrations)\b", re.I)
_LIST_NAME = re.compile(r"list (bullet|number)|liste à puces|liste numérotée", re.I)
_BLANK = re.compile(r"_{4,}|\.{5,}|(?:…\s?){2,}")
_SIGN_WORD = re.compile(r"\b(?:signatures?|sign(?:é|ée|és|ées)|signed|signez|sign here)\b", re.I)
_SIGN_CELL = re.compile(r"^\s*(?:signatures?|sign(?:é|ée)|signed)\b", re.I)
_GRID_LABEL = re.compile(
    r"(?:date|heure|time|nom|name|initials?|initiales|print(?:ed)? name\b.*|nom (?:et|&) prénom.*)\s*:?", re.I)
_CONSENT_ANNOUNCE = re.compile(
    r"formulaire\s+de\s+consentement|consentement\s+(?:libre\s+et\s+)?[ée]clair[ée]|recueil\s+du\s+consentement|"
    r"consent\s+form|consent\s+document|signature\s+pages?|pages?\s+de\s+signatures?", re.I)
_ACCEPT = re.compile(r"(?:oui|yes|j['’]accepte|i agree|i accept|j['’]autorise|accepte|d['’]accord)\b", re.I)
_REFUSE = re.compile(
    r"(?:non|no|je n['’]accepte pas|je refuse|je n['’]autorise pas|i do not|i don['’]t|refuse|pas d['’]accord)\b",
    re.I)
_BOX_OR_BLANK = re.compile(rf"[{_BOXES}]|_{{3,}}")
_MANDATORY = re.compile(r"obligatoire|mandatory|required|requis|indispensable", re.I)
_ROLE_WORDS = (
    ("investigator", r"investigat(?:eur|rice|or)s?|médecin|medecin|physician|person obtaining consent|"
                     r"personne (?:qui )?recueill\w* le consentement"),
    ("surrogate", r"proches?|représentante?s?|representante?s?|representatives?|legally authori[sz]ed|(?-i:LAR)|"
                  r"parents?|référente?s?|referente?s?|tuteur|tutrice|guardians?|curat(?:eur|rice)|"
                  r"personne de confiance|autorité parentale"),
    ("witness", r"témoins?|temoins?|witness(?:es)?|interpr[èe]te|interpreter"),
    ("participant", r"participante?s?|patiente?s?|sujets?|subjects?|volontaires?|volunteers?|minors?|mineure?s?"),
)
_ROLE = re.compile("|".join(rf"(?P<{role}>\b(?:{words})\b)" for role, words in _ROLE_WORDS), re.I)


class DocxRefused(Exception):
    """A Word file we will not import; `reason` is a sentence to show the user as is."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class ImportResult:
    """What an import gives back: the two parts of the form and what the caller must show or record."""

    information: list[dict]
    consent: list[dict]
    unmapped: list[str]
    tracked_changes: dict
    title: str


# --------------------------------------------------------------------------------------------------------------
# Import: public entry point
# --------------------------------------------------------------------------------------------------------------

def import_docx(data: bytes, *, allow_tracked_changes: bool = False) -> ImportResult:
    """Read an uploaded .docx into neutral blocks, refusing hostile or unfaithful files with a clear reason."""
    try:
        parts = _checked_parts(data)
        revisions = _count_revisions(parts)
        if not allow_tracked_changes and any(revisions.values()):
            raise DocxRefused(_revision_reason(revisions))
        return _read(data, parts, revisions)
    except DocxRefused:
        raise
    except Exception as exc:  # a malformed file must become a refusal for the user, never a server error
        logger.warning("docx import failed on an unexpected error", exc_info=True)
        raise DocxRefused(
            "Le fichier n'a pas pu être lu comme un document Word (.docx) : il semble endommagé. "
            "Ouvrez-le dans Word et enregistrez-le à nouveau au format .docx.") from exc


def _revision_reason(counts: dict[str, int]) -> str:
    """French sentence naming every kind of pending revision, so the author knows what to resolve in Word."""
    return (f"Le document contient {_plural(counts['insertions'], 'insertion')}, "
            f"{_plural(counts['deletions'], 'suppression')} et {_plural(counts['comments'], 'commentaire')} "
            "non résolus (suivi des modifications). Acceptez ou refusez les modifications et supprimez les "
            "commentaires dans Word, puis importez de nouveau le fichier.")


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'s' if n > 1 else ''}"


# --------------------------------------------------------------------------------------------------------------
# Import: package defences (run before python-docx sees the bytes)
# --------------------------------------------------------------------------------------------------------------

def _checked_parts(data: bytes) -> dict[str, etree._Element]:
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


def _check_relationships(trees: dict[str, etree._Element]) -> None:
    """Only ordinary hyperlinks may point outside the package; internal targets must stay inside it."""
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
                if kind != "hyperlink":
                    raise DocxRefused(f"Le document charge une ressource externe ({kind} → {target[:100]}) : "
                                      "fichier refusé. Incorporez le contenu ou supprimez le lien.")
            elif _escapes_package(base, target):
                raise DocxRefused(f"Le document désigne un fichier hors de l'archive ({target[:100]}).")


def _escapes_package(base: str, target: str) -> bool:
    path = target.lstrip("/") if target.startswith("/") else posixpath.join(base, target)
    return posixpath.normpath(path or ".").startswith("..")


def _count_revisions(trees: dict[str, etree._Element]) -> dict[str, int]:
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


# --------------------------------------------------------------------------------------------------------------
# Import: styles and numbering
# --------------------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class _Style:
    name: str
    based_on: str | None
    num: tuple[str, int] | None
    outline: int | None
    bold: bool | None
    italic: bool | None
    hidden: bool | None
    page_break: bool | None


def _flag(element: etree._Element | None) -> bool | None:
    """Word on/off property: present means on unless w:val says 0/false/off."""
    if element is None:
        return None
    return element.get(_VAL, "true").lower() not in ("0", "false", "off")


def _num_pr(ppr: etree._Element | None) -> tuple[str, int] | None:
    num_pr = ppr.find(W["numPr"]) if ppr is not None else None
    if num_pr is None:
        return None
    num_id = num_pr.find(W["numId"])
    ilvl = num_pr.find(W["ilvl"])
    if num_id is None:
        return None
    level = ilvl.get(_VAL, "0") if ilvl is not None else "0"
    return num_id.get(_VAL, "0"), int(level) if level.isdigit() else 0


def _outline(ppr: etree._Element | None) -> int | None:
    element = ppr.find(W["outlineLvl"]) if ppr is not None else None
    value = element.get(_VAL, "") if element is not None else ""
    return int(value) if value.isdigit() else None


class _Styles:
    """Style lookups through the `basedOn` chain, memoised because every paragraph asks."""

    def __init__(self, root: etree._Element | None) -> None:
        self.by_id: dict[str, _Style] = {}
        self.default_paragraph = ""
        for element in root.iter(W["style"]) if root is not None else ():
            style_id = element.get(qn("w:styleId"), "")
            name = element.find(W["name"])
            based = element.find(W["basedOn"])
            ppr = element.find(W["pPr"])
            rpr = element.find(W["rPr"])
            self.by_id[style_id] = _Style(
                name=name.get(_VAL, style_id) if name is not None else style_id,
                based_on=based.get(_VAL) if based is not None else None,
                num=_num_pr(ppr), outline=_outline(ppr),
                bold=_flag(rpr.find(W["b"])) if rpr is not None else None,
                italic=_flag(rpr.find(W["i"])) if rpr is not None else None,
                hidden=_flag(rpr.find(W["vanish"])) if rpr is not None else None,
                page_break=_flag(ppr.find(W["pageBreakBefore"])) if ppr is not None else None,
            )
            if element.get(qn("w:type")) == "paragraph" and element.get(qn("w:default")) in ("1", "true"):
                self.default_paragraph = style_id
        self._chains: dict[str, list[_Style]] = {}

    def chain(self, style_id: str) -> list[_Style]:
        if style_id not in self._chains:
            chain: list[_Style] = []
            current: str | None = style_id
            while current in self.by_id and len(chain) < 20 and self.by_id[current] not in chain:
                chain.append(self.by_id[current])
                current = self.by_id[current].based_on
            self._chains[style_id] = chain
        return self._chains[style_id]

    def first(self, style_id: str, attribute: str) -> Any:
        return next((getattr(s, attribute) for s in self.chain(style_id) if getattr(s, attribute) is not None), None)


class _Numbering:
    """numId → list kind, following num → abstractNum (and numStyleLink) as Word does."""

    def __init__(self, root: etree._Element | None, styles: _Styles) -> None:
        self.styles = styles
        self.abstract: dict[str, dict[int, str]] = {}
        self.links: dict[str, str] = {}
        self.nums: dict[str, tuple[str, dict[int, str]]] = {}
        if root is None:
            return
        for abstract in root.iter(W["abstractNum"]):
            abstract_id = abstract.get(qn("w:abstractNumId"), "")
            self.abstract[abstract_id] = self._levels(abstract)
            link = abstract.find(W["numStyleLink"])
            if link is not None:
                self.links[abstract_id] = link.get(_VAL, "")
        for num in root.iter(W["num"]):
            abstract_id = num.find(W["abstractNumId"])
            overrides = {}
            for override in num.iter(W["lvlOverride"]):
                overrides.update(self._levels(override))
            self.nums[num.get(qn("w:numId"), "")] = (
                abstract_id.get(_VAL, "") if abstract_id is not None else "", overrides)

    @staticmethod
    def _levels(element: etree._Element) -> dict[int, str]:
        levels = {}
        for lvl in element.iter(W["lvl"]):
            fmt = next(lvl.iter(W["numFmt"]), None)
            ilvl = lvl.get(qn("w:ilvl"), "0")
            levels[int(ilvl) if ilvl.isdigit() else 0] = fmt.get(_VAL, "decimal") if fmt is not None else "decimal"
        return levels

    def kind(self, num_id: str, ilvl: int, depth: int = 0) -> str | None:
        if num_id in ("", "0") or num_id not in self.nums or depth > 3:
            return None
        abstract_id, overrides = self.nums[num_id]
        fmt = overrides.get(ilvl) or self.abstract.get(abstract_id, {}).get(ilvl)
        if fmt is None and abstract_id in self.links:
            linked = self.styles.first(self.links[abstract_id], "num")
            return self.kind(linked[0], ilvl, depth + 1) if linked else None
        if fmt is None:
            fmt = self.abstract.get(abstract_id, {}).get(0, "bullet")
        return "bullet" if fmt in ("bullet", "none") else "numbered"


# --------------------------------------------------------------------------------------------------------------
# Import: runs
# --------------------------------------------------------------------------------------------------------------

@dataclass
class _Seg:
    text: str
    bold: bool
    italic: bool


@dataclass
class _Field:
    instr: str = ""
    checked: bool | None = None
    result_at: int | None = None


class _Runs:
    """Walk one paragraph's inline XML: text with insertions kept and deletions dropped, formatting, notes."""

    def __init__(self, styles: _Styles, footnotes: dict[str, str] | None = None) -> None:
        self.styles = styles
        self.footnotes = footnotes or {}
        self.segs: list[_Seg] = []
        self.plain: list[str] = []
        self.notes: list[tuple[str, str]] = []
        self.markers: set[str] = set()
        self.fields: list[_Field] = []

    def text(self) -> str:
        return "".join(self.plain)

    def walk(self, element: etree._Element) -> _Runs:
        for child in element:
            tag = child.tag
            if not isinstance(tag, str) or tag in (W["pPr"], W["del"], W["moveFrom"]):
                continue
            if tag == W["r"]:
                self._run(child)
            elif tag in (W["ins"], W["moveTo"], W["hyperlink"], W["smartTag"], W["customXml"], W["dir"], W["bdo"]):
                self.walk(child)
            elif tag == W["fldSimple"]:
                self._note_field(child.get(qn("w:instr"), ""))
                self.walk(child)
            elif tag == W["sdt"]:
                self._sdt(child)
            elif tag == W["bookmarkStart"]:
                self.markers.add(child.get(qn("w:name"), ""))
            elif tag == _MC_ALTERNATE and len(child):
                self.walk(child[0])
            elif tag.startswith(_MATH):
                text = "".join(t.text or "" for t in child.iter(f"{_MATH}t"))
                self.notes.append(("équation", f"Équation non reprise « {_excerpt(text)} »"))
        return self

    def _sdt(self, sdt: etree._Element) -> None:
        props = sdt.find(W["sdtPr"])
        content = sdt.find(W["sdtContent"])
        checkbox = props.find(f"{{{_W14}}}checkbox") if props is not None else None
        if checkbox is not None:
            state = checkbox.find(f"{{{_W14}}}checked")
            shown = "".join(t.text or "" for t in content.iter(W["t"])) if content is not None else ""
            if not any(box in shown for box in _BOXES):
                checked = state is not None and state.get(f"{{{_W14}}}val", "0") in ("1", "true")
                self._emit("☒" if checked else "☐", False, False)
                return
        if props is not None and props.find(W["showingPlcHdr"]) is not None:
            self._emit("_____", False, False)
            return
        if content is not None:
            self.walk(content)

    def _run(self, run: etree._Element) -> None:
        rpr = run.find(W["rPr"])
        char_style = rpr.find(W["rStyle"]) if rpr is not None else None
        style_id = char_style.get(_VAL, "") if char_style is not None else ""

        def prop(tag: str, attribute: str) -> bool:
            direct = _flag(rpr.find(W[tag])) if rpr is not None else None
            return bool(direct if direct is not None else self.styles.first(style_id, attribute))

        if prop("vanish", "hidden"):
            text = "".join(t.text or "" for t in run.iter(W["t"]))
            if text.strip():
                self.notes.append(("texte masqué", f"Texte masqué non repris « {_excerpt(text)} »"))
            return
        fonts = rpr.find(W["rFonts"]) if rpr is not None else None
        font = (fonts.get(qn("w:ascii")) or fonts.get(qn("w:hAnsi")) or "") if fonts is not None else ""
        symbol = "wingdings" in font.lower()
        self._run_children(run, prop("b", "bold"), prop("i", "italic"), symbol)

    def _run_children(self, run: etree._Element, bold: bool, italic: bool, symbol: bool) -> None:
        for child in run:
            tag = child.tag
            if tag == W["t"]:
                text = child.text or ""
                self._emit("".join(_WINGDINGS.get(c, c) for c in text) if symbol else text, bold, italic)
            elif tag in (W["tab"], W["ptab"]):
                self._emit(" ", bold, italic)
            elif tag == W["br"]:
                self._emit(_PAGE if child.get(qn("w:type")) == "page" else "\n", bold, italic)
            elif tag == W["cr"]:
                self._emit("\n", bold, italic)
            elif tag == W["noBreakHyphen"]:
                self._emit("-", bold, italic)
            elif tag == W["sym"]:
                self._symbol(child, bold, italic)
            elif tag == W["fldChar"]:
                self._field_char(child)
            elif tag == W["instrText"] and self.fields:
                self.fields[-1].instr += child.text or ""
            elif tag in (W["drawing"], W["pict"], W["object"]):
                self.notes.append(_graphic_note(child))
            elif tag in (W["footnoteReference"], W["endnoteReference"]):
                kind = "note de bas de page" if tag == W["footnoteReference"] else "note de fin"
                key = f"{kind}:{child.get(qn('w:id'), '?')}"
                quoted = _excerpt(self.footnotes.get(key, ""))
                self.notes.append((kind, f"{kind.capitalize()} non reprise « {quoted} »"))
            elif tag == _MC_ALTERNATE and len(child):
                self._run_children(child[0], bold, italic, symbol)

    def _symbol(self, sym: etree._Element, bold: bool, italic: bool) -> None:
        font = (sym.get(qn("w:font")) or "").lower()
        code = sym.get(qn("w:char")) or ""
        if not re.fullmatch(r"[0-9A-Fa-f]{1,4}", code):
            return
        value = int(code, 16)
        if "wingdings" in font:
            self._emit(_WINGDINGS_SYM.get(value & 0xFF, ""), bold, italic)
        elif 0x20 <= value < 0xE000 or value > 0xF8FF:  # a real code point ("MS Gothic" ☐), not a symbol-font slot
            self._emit(chr(value), bold, italic)

    def _field_char(self, element: etree._Element) -> None:
        kind = element.get(qn("w:fldCharType"))
        if kind == "begin":
            box = element.find(f"{W['ffData']}/{W['checkBox']}")
            checked = None
            if box is not None:
                state = box.find(W["checked"]) if box.find(W["checked"]) is not None else box.find(W["default"])
                checked = state is not None and state.get(_VAL, "1") in ("1", "true")
            self.fields.append(_Field(checked=checked))
        elif kind == "separate" and self.fields:
            self.fields[-1].result_at = len(self.plain)
        elif kind == "end" and self.fields:
            self._end_field(self.fields.pop())

    def _end_field(self, fld: _Field) -> None:
        words = fld.instr.split()
        name = words[0].upper() if words else ""
        if name == "FORMCHECKBOX":
            self._emit("☒ " if fld.checked else "☐ ", False, False)
        elif name == "FORMTEXT":
            start = fld.result_at if fld.result_at is not None else len(self.plain)
            if not "".join(self.plain[start:]).strip():
                self._emit("_____", False, False)
        else:
            self._note_field(fld.instr)

    def _note_field(self, instr: str) -> None:
        words = instr.split()
        name = words[0].upper() if words else ""
        if name and name not in ("HYPERLINK", "FORMTEXT", "FORMCHECKBOX", "FORMDROPDOWN"):
            self.notes.append((f"champ {name}", f"Champ Word {name} remplacé par son dernier résultat affiché"))

    def _emit(self, text: str, bold: bool, italic: bool) -> None:
        if not text:
            return
        self.plain.append(text)
        if self.segs and (self.segs[-1].bold, self.segs[-1].italic) == (bold, italic):
            self.segs[-1].text += text
        else:
            self.segs.append(_Seg(text, bold, italic))


def _graphic_note(element: etree._Element) -> tuple[str, str]:
    """Name what a drawing holds, with its alt text or text, so the author can rebuild it by hand."""
    names = {etree.QName(e).localname for e in element.iter() if isinstance(e.tag, str)}
    text = " ".join(t.text or "" for t in element.iter(W["t"])).strip()
    if "txbxContent" in names and text:
        return "zone de texte", f"Zone de texte non reprise « {_excerpt(text)} »"
    if "chart" in names:
        return "graphique", "Graphique non repris"
    if "relIds" in names:
        return "diagramme", "Diagramme SmartArt non repris"
    if element.tag == W["object"] or "OLEObject" in names:
        return "objet", "Objet incorporé (OLE) non repris"
    if "blip" in names or "imagedata" in names:
        described = next((e.get("descr") or e.get("title") or e.get("name") for e in element.iter()
                          if isinstance(e.tag, str) and etree.QName(e).localname == "docPr"), "")
        return "image", f"Image non reprise{f' « {_excerpt(described)} »' if described else ''}"
    return "forme", "Forme ou dessin non repris"


def _excerpt(text: str, size: int = 60) -> str:
    text = " ".join(text.split())
    return text if len(text) <= size else text[:size - 1] + "…"


# --------------------------------------------------------------------------------------------------------------
# Import: paragraphs and tables → pieces
# --------------------------------------------------------------------------------------------------------------

@dataclass
class _Piece:
    """A block in the making; some kinds (list_item, choice, statement…) are merged by `_assemble`."""

    kind: str
    value: Any = None
    key: tuple[str, str] | None = None
    context: str = ""
    guessed: bool = False


@dataclass(frozen=True)
class _ParaProps:
    style_name: str
    heading: int | None
    list_key: tuple[str, str] | None
    page_break_before: bool
    bold: bool
    toc: bool


class _Notes:
    """Unmapped notes, capped per kind so a protocol with 200 cross-references stays readable."""

    def __init__(self) -> None:
        self.items: list[str] = []
        self.counts: Counter[str] = Counter()

    def add(self, kind: str, message: str) -> None:
        self.counts[kind] += 1
        if self.counts[kind] <= _MAX_NOTES_PER_KIND:
            self.items.append(message)

    def result(self) -> list[str]:
        extra = [f"… et {n - _MAX_NOTES_PER_KIND} autres éléments « {kind} » non repris."
                 for kind, n in self.counts.items() if n > _MAX_NOTES_PER_KIND]
        return self.items + extra


class _Reader:
    """Walk the body in document order (content controls included) and turn it into pieces."""

    def __init__(self, document: Any, footnotes: dict[str, str]) -> None:
        self.footnotes = footnotes
        self.styles = _Styles(document.styles.element)
        self.numbering = _Numbering(document.part.numbering_part.element, self.styles)
        self.notes = _Notes()
        self.pieces: list[_Piece] = []
        self.paragraph_no = 0
        self.table_no = 0
        self.last_heading = ""
        self.toc_noted = False

    def read(self, container: etree._Element) -> None:
        for child in container:
            if child.tag == W["p"]:
                self._paragraph(child)
            elif child.tag == W["tbl"]:
                self._table(child)
            elif child.tag in (W["sdt"], W["customXml"]):
                content = child.find(W["sdtContent"]) if child.tag == W["sdt"] else child
                if content is not None:
                    self.read(content)
            elif child.tag == W["altChunk"]:
                self.notes.add("contenu importé", f"Contenu importé (altChunk) non repris — après paragraphe "
                                                  f"{self.paragraph_no}")

    # paragraphs -------------------------------------------------------------------------------------------

    def _paragraph(self, p: etree._Element) -> None:
        self.paragraph_no += 1
        props = self._props(p)
        if props.toc:
            if not self.toc_noted:
                self.notes.add("table des matières", "Table des matières non reprise (elle se régénère)")
                self.toc_noted = True
            return
        runs = _Runs(self.styles, self.footnotes).walk(p)
        for marker in runs.markers & {BODY_BOOKMARK, CONSENT_BOOKMARK}:
            self.pieces.append(_Piece(marker))
        text = runs.text().strip()
        where = f"paragraphe {self.paragraph_no}"
        where += f" « {_excerpt(text, 50)} »" if text.strip(_PAGE) else (
            f" (après « {_excerpt(self.last_heading, 50)} »)" if self.last_heading else "")
        for kind, message in runs.notes:
            self.notes.add(kind, f"{message} — {where}")
        if props.page_break_before and text:
            self.pieces.append(_Piece("page_break"))
        for index, chunk in enumerate(_split_pages(runs.segs)):
            if index:
                self.pieces.append(_Piece("page_break"))
            self._classify(chunk, props, where)

    def _props(self, p: etree._Element) -> _ParaProps:
        ppr = p.find(W["pPr"])
        style = ppr.find(W["pStyle"]) if ppr is not None else None
        style_id = style.get(_VAL, "") if style is not None else self.styles.default_paragraph
        chain = self.styles.chain(style_id)
        name = chain[0].name if chain else style_id
        direct_break = _flag(ppr.find(W["pageBreakBefore"])) if ppr is not None else None
        return _ParaProps(
            style_name=name,
            heading=self._heading_level(ppr, chain),
            list_key=self._list_key(ppr, style_id, chain),
            page_break_before=bool(direct_break if direct_break is not None else self.styles.first(
                style_id, "page_break")),
            bold=bool(self.styles.first(style_id, "bold")),
            toc=bool(chain) and bool(_TOC_NAME.match(chain[0].name)),
        )

    @staticmethod
    def _heading_level(ppr: etree._Element | None, chain: list[_Style]) -> int | None:
        direct = _outline(ppr)
        if direct is not None:
            return min(direct + 1, 3) if direct < 9 else None
        for style in chain:
            if style.outline is not None:
                return min(style.outline + 1, 3) if style.outline < 9 else None
            match = _HEADING_NAME.search(style.name)
            if match:
                return min(int(match.group(1)), 3)
            if _TITLE_NAME.match(style.name):
                return 1
        return None

    def _list_key(self, ppr: etree._Element | None, style_id: str,
                  chain: list[_Style]) -> tuple[str, str] | None:
        numbering = _num_pr(ppr) or next((s.num for s in chain if s.num is not None), None)
        if numbering is not None:
            kind = self.numbering.kind(numbering[0], numbering[1])
            return (numbering[0], kind) if kind else None
        for style in chain:
            match = _LIST_NAME.search(style.name)
            if match:
                numbered = "number" in match.group(0).lower() or "numérotée" in match.group(0).lower()
                return style_id, "numbered" if numbered else "bullet"
        return None

    def _classify(self, segs: list[_Seg], props: _ParaProps, where: str) -> None:
        segs = _trim(segs)
        text = "".join(s.text for s in segs)
        if not text:
            return
        if props.style_name in _OWN_STYLES:
            self.pieces.append(_own_piece(props.style_name, segs, text))
        elif props.heading and len(text) <= 255:
            self._heading(text, props.heading)
        elif props.list_key:
            self.pieces.append(_Piece("list_item", text, key=props.list_key))
        else:
            self.pieces.extend(self._guess(segs, text, props, where))

    def _heading(self, text: str, level: int) -> None:
        self.last_heading = text
        self.pieces.append(_Piece("heading", {"text": text, "level": level}))

    def _guess(self, segs: list[_Seg], text: str, props: _ParaProps, where: str) -> list[_Piece]:
        choice = _choice_line(text)
        if choice:
            if any(box in text for box in _CHECKED_BOXES):
                self.notes.add("case cochée", f"Case cochée d'avance (l'état coché n'est pas repris) — {where}")
            return [_Piece("choice", choice)]
        if text[0] in _BOXES:
            if text[0] in _CHECKED_BOXES:
                self.notes.add("case cochée", f"Case cochée d'avance (l'état coché n'est pas repris) — {where}")
            label = text[1:].strip()
            return [_Piece("checkbox", {"text": label})] if label else []
        if _is_signature_line(text):
            return [_Piece("signature", {"role": "participant", "label": _signature_label(text)}, guessed=True)]
        if _BLANK.search(text):
            return _fill_ins(text)
        if _looks_like_heading(segs, text, props.bold):
            self.last_heading = text
            return [_Piece("heading", {"text": text, "level": 2})]
        return [_Piece("paragraph", _html(segs))]

    # tables -----------------------------------------------------------------------------------------------

    def _table(self, tbl: etree._Element) -> None:
        self.table_no += 1
        caption_element = tbl.find(f"{W['tblPr']}/{W['tblCaption']}")
        caption = caption_element.get(_VAL, "") if caption_element is not None else ""
        rows, header_flags = self._rows(tbl, self.table_no)
        if not rows:
            return
        if caption.startswith(CAPTION_SIGNATURE):
            role = caption[len(CAPTION_SIGNATURE):]
            label = (rows[0][0] if rows[0] else "") or "Signature"
            self.pieces.append(_Piece("signature", {"role": role if role in ROLES else "participant",
                                                    "label": label[:255]}))
            return
        if caption != CAPTION_TABLE and _is_signature_grid(rows):
            self.pieces.extend(_signature_grid(rows))
            return
        first = _children(tbl, W["tr"])[0]
        header = _flag(first.find(f"{W['trPr']}/{W['tblHeader']}")) is True
        if not header and caption != CAPTION_TABLE:
            header = header_flags
        self.pieces.append(_Piece("table", {"first_row_is_header": header, "rows": rows}))

    def _rows(self, tbl: etree._Element, number: int) -> tuple[list[list[str]], bool]:
        """Cell texts row by row (merged cells padded with ""), and whether the first row is all bold."""
        rows: list[list[str]] = []
        first_row_bold = False
        for r_index, tr in enumerate(_children(tbl, W["tr"]), start=1):
            row: list[str] = []
            bold_cells: list[bool] = []
            for c_index, tc in enumerate(_children(tr, W["tc"]), start=1):
                text, bold = self._cell(tc, f"tableau {number}, ligne {r_index}, cellule {c_index}")
                row.append(text)
                bold_cells.append(bold)
                span = tc.find(f"{W['tcPr']}/{W['gridSpan']}")
                value = span.get(_VAL, "1") if span is not None else "1"
                row.extend([""] * (int(value) - 1 if value.isdigit() and 1 < int(value) <= 64 else 0))
            if r_index == 1:
                first_row_bold = any(row) and all(bold for bold, text in zip(bold_cells, row, strict=False) if text)
            rows.append(row)
        return rows, first_row_bold

    def _cell(self, tc: etree._Element, where: str) -> tuple[str, bool]:
        """The cell's text (paragraphs joined by newlines, nested tables flattened) and whether it is all bold."""
        lines: list[str] = []
        bold = True
        for child in _children(tc, W["p"], W["tbl"]):
            if child.tag == W["tbl"]:
                nested, _ = self._rows(child, self.table_no)
                self.notes.add("tableau imbriqué", f"Tableau imbriqué aplati en texte — {where}")
                lines.extend(" | ".join(cell for cell in row if cell) for row in nested)
                continue
            runs = _Runs(self.styles, self.footnotes).walk(child)
            for kind, message in runs.notes:
                self.notes.add(kind, f"{message} — {where}")
            lines.append(runs.text().replace(_PAGE, "").strip())
            style = child.find(f"{W['pPr']}/{W['pStyle']}")
            style_bold = bool(self.styles.first(style.get(_VAL, "") if style is not None else "", "bold"))
            bold = bold and all(s.bold or style_bold for s in runs.segs if s.text.strip())
        text = "\n".join(lines).strip("\n")
        return text, bold and bool(text)


def _children(element: etree._Element, *tags: str) -> list[etree._Element]:
    """Children with the given tags, looking through content controls and custom XML wrappers."""
    found: list[etree._Element] = []
    for child in element:
        if child.tag in tags:
            found.append(child)
        elif child.tag == W["sdt"]:
            content = child.find(W["sdtContent"])
            found.extend(_children(content, *tags) if content is not None else [])
        elif child.tag == W["customXml"]:
            found.extend(_children(child, *tags))
    return found


def _split_pages(segs: list[_Seg]) -> list[list[_Seg]]:
    chunks: list[list[_Seg]] = [[]]
    for seg in segs:
        for index, part in enumerate(seg.text.split(_PAGE)):
            if index:
                chunks.append([])
            if part:
                chunks[-1].append(_Seg(part, seg.bold, seg.italic))
    return chunks


def _trim(segs: list[_Seg]) -> list[_Seg]:
    """Drop leading and trailing whitespace across segments, keeping inner spacing as written."""
    segs = [_Seg(s.text, s.bold, s.italic) for s in segs]
    while segs and not segs[0].text.strip():
        segs.pop(0)
    while segs and not segs[-1].text.strip():
        segs.pop()
    if segs:
        segs[0].text = segs[0].text.lstrip()
        segs[-1].text = segs[-1].text.rstrip()
    return segs


def _html(segs: list[_Seg]) -> str:
    """Paragraph HTML in the neutral format: <p>, <b> outside <i>, <br/>; text escaped."""
    parts = []
    for seg in segs:
        text = html.escape(seg.text, quote=False).replace("\n", "<br/>")
        text = f"<i>{text}</i>" if seg.italic else text
        parts.append(f"<b>{text}</b>" if seg.bold else text)
    return f"<p>{''.join(parts)}</p>"


def _html_text(value: str) -> str:
    return html.unescape(re.sub(r"<[^>]+>", "", value.replace("<br/>", "\n"))).strip()


def _own_piece(style_name: str, segs: list[_Seg], text: str) -> _Piece:
    """Paragraphs written by `export_docx`: read exactly, no guessing."""
    if style_name == STYLE_PARAGRAPH:
        return _Piece("paragraph", _html(segs))
    if style_name in (STYLE_STATEMENT, STYLE_STATEMENT_MANDATORY):
        return _Piece("statement", {"text": text, "mandatory": style_name == STYLE_STATEMENT_MANDATORY})
    if style_name == STYLE_CHOICES:
        labels = [part.strip() for part in text.split("☐")]
        return _Piece("choices", (labels[1] if len(labels) > 1 else "", labels[2] if len(labels) > 2 else ""))
    if style_name == STYLE_CHECKBOX:
        label = re.sub(rf"^[{_BOXES}] ?", "", text)
        return _Piece("checkbox", {"text": label}) if label else _Piece("paragraph", _html(segs))
    return _Piece("fill_in", {"label": re.sub(r"\s?: _+$", "", text)})


def _choice_line(text: str) -> dict | None:
    """Recognise "☐ Oui ☐ Non" / "_____ Yes _____ No" / "Oui ☐ Non ☐" lines, with an optional statement before."""
    parts = _BOX_OR_BLANK.split(text)
    if len(parts) != 3:
        return None
    before, first, second = (part.strip() for part in parts)
    if _ACCEPT.match(first) and _REFUSE.match(second) and not _ACCEPT.match(second):
        return {"prefix": before, "accept": first, "refuse": second}
    match = re.match(rf"^(?P<prefix>.*?)\s*(?P<accept>{_ACCEPT.pattern})$", before, re.I | re.S)
    if match and not second and _REFUSE.fullmatch(first):
        return {"prefix": match.group("prefix").strip(), "accept": match.group("accept"), "refuse": first}
    return None


def _is_signature_line(text: str) -> bool:
    """A short label naming a signature, not a sentence that mentions one."""
    label = _BLANK.sub(" ", text).strip()
    return (len(label) <= 100 and len(label.split()) <= 12 and not label.endswith((".", "?", "!"))
            and bool(_SIGN_WORD.search(label)) and not _CONSENT_ANNOUNCE.search(label))


def _signature_label(text: str) -> str:
    label = " ".join(_BLANK.sub(" ", text).split()).strip(" :;,")
    return label[:255]


def _fill_ins(text: str) -> list[_Piece]:
    """Each text before a blank labels that blank; text after the last blank stays a paragraph."""
    parts = _BLANK.split(text)
    pieces = [_Piece("fill_in", {"label": label[:255]}) for label in map(_clean_label, parts[:-1]) if label]
    if not pieces:
        pieces.append(_Piece("fill_in", {"label": ""}))
    tail = parts[-1].strip().lstrip(",;").strip()
    if re.search(r"\w", tail):
        pieces.append(_Piece("paragraph", f"<p>{html.escape(tail, quote=False)}</p>".replace("\n", "<br/>")))
    return pieces


def _clean_label(raw: str) -> str:
    return " ".join(raw.split()).lstrip(",;. ").rstrip(":;, ").strip()


def _looks_like_heading(segs: list[_Seg], text: str, paragraph_bold: bool) -> bool:
    if len(text) > 100 or "\n" in text or text.endswith((".", ",", ";")) or len(re.findall(r"[^\W\d_]", text)) < 4:
        return False
    return all(seg.bold or paragraph_bold for seg in segs if seg.text.strip())


def _is_signature_grid(rows: list[list[str]]) -> bool:
    return any(_SIGN_CELL.match(cell) and len(cell) <= 80 and not _CONSENT_ANNOUNCE.search(cell)
               for row in rows for cell in row)


def _signature_grid(rows: list[list[str]]) -> list[_Piece]:
    """A signature table becomes its statements (paragraphs) and one signature block per signature cell."""
    pieces: list[_Piece] = []
    context = ""
    for row in rows:
        previous = None
        for cell in row:
            text = cell.strip()
            if not text or text == previous:
                continue
            previous = text
            if _SIGN_CELL.match(text) and len(text) <= 80:
                pieces.append(_Piece("signature", {"role": "participant", "label": _signature_label(text)},
                                     context=context, guessed=True))
            elif not _GRID_LABEL.fullmatch(text):
                pieces.append(_Piece("paragraph", _html([_Seg(text, False, False)])))
                context = text
    return pieces


def _guess_role(text: str) -> str | None:
    """The role named first in the text wins: "Signature of investigator for LAR" is the investigator's."""
    match = _ROLE.search(text or "")
    return match.lastgroup if match else None


# --------------------------------------------------------------------------------------------------------------
# Import: assembling blocks
# --------------------------------------------------------------------------------------------------------------

def _assemble(pieces: list[_Piece]) -> tuple[list[dict], int | None, int | None]:
    """Merge list items, statements and choices into blocks; return blocks and the body/consent marker indexes."""
    blocks: list[dict] = []
    body_at = consent_at = None
    last_heading = ""
    index = 0
    while index < len(pieces):
        piece = pieces[index]
        index += 1
        if piece.kind == BODY_BOOKMARK:
            body_at = len(blocks)
        elif piece.kind == CONSENT_BOOKMARK:
            consent_at = len(blocks)
        elif piece.kind == "list_item":
            items = [piece.value]
            while index < len(pieces) and pieces[index].kind == "list_item" and pieces[index].key == piece.key:
                items.append(pieces[index].value)
                index += 1
            blocks.append({"type": "list", "value": {"style": piece.key[1], "items": items}})
        elif piece.kind == "statement":
            labels = ("Oui", "Non")
            if index < len(pieces) and pieces[index].kind == "choices":
                labels = tuple(found or default for found, default in zip(pieces[index].value, labels, strict=True))
                index += 1
            blocks.append(_statement(piece.value["text"], *labels, mandatory=piece.value["mandatory"]))
        elif piece.kind == "choices":
            blocks.append({"type": "paragraph", "value": f"<p>☐ {html.escape(piece.value[0], quote=False)}   "
                                                         f"☐ {html.escape(piece.value[1], quote=False)}</p>"})
        elif piece.kind == "choice":
            blocks.append(_choice_statement(piece.value, blocks))
        elif piece.kind == "checkbox" and _is_checkbox_pair(piece, pieces[index] if index < len(pieces) else None):
            blocks.append(_pair_statement(piece, pieces[index], blocks))
            index += 1
        elif piece.kind == "fill_in" and not piece.value["label"]:
            blocks.append(_bare_blank(blocks))
        else:
            if piece.kind == "signature" and piece.guessed:
                piece.value["role"] = _signature_role(piece, last_heading)
            if piece.kind == "heading":
                last_heading = piece.value["text"]
            blocks.append({"type": piece.kind, "value": piece.value})
    return blocks, body_at, consent_at


def _signature_role(piece: _Piece, last_heading: str) -> str:
    """Role named by the label, else by the statement above it (grids), else by its section heading."""
    return (_guess_role(piece.value["label"]) or _guess_role(piece.context) or _guess_role(last_heading)
            or "participant")


def _bare_blank(blocks: list[dict]) -> dict:
    """A line that is only a blank is labelled by the paragraph above it ("Commentaires :" then "_____")."""
    label = _html_text(blocks.pop()["value"]) if blocks and blocks[-1]["type"] == "paragraph" else ""
    return {"type": "fill_in", "value": {"label": (label.rstrip(" :") or "À compléter")[:255]}}


def _statement(text: str, accept: str, refuse: str, *, mandatory: bool) -> dict:
    return {"type": "consent_statement",
            "value": {"text": text, "accept_label": accept, "refuse_label": refuse, "mandatory": mandatory}}


def _choice_statement(choice: dict, blocks: list[dict]) -> dict:
    """A choice line takes its own leading text as the statement, else the paragraph just above."""
    text = choice["prefix"]
    if len(re.findall(r"[^\W\d_]", text)) < 3:
        if not (blocks and blocks[-1]["type"] == "paragraph"):
            return {"type": "paragraph", "value": _html([_Seg(
                f"☐ {choice['accept']}   ☐ {choice['refuse']}", False, False)])}
        text = _html_text(blocks.pop()["value"])
    return _statement(text, choice["accept"], choice["refuse"], mandatory=bool(_MANDATORY.search(text)))


def _is_checkbox_pair(first: _Piece, second: _Piece | None) -> bool:
    return (second is not None and second.kind == "checkbox" and bool(_ACCEPT.match(first.value["text"]))
            and bool(_REFUSE.match(second.value["text"])) and not _ACCEPT.match(second.value["text"]))


def _pair_statement(accept: _Piece, refuse: _Piece, blocks: list[dict]) -> dict:
    text = _html_text(blocks.pop()["value"]) if blocks and blocks[-1]["type"] == "paragraph" else accept.value["text"]
    return _statement(text, accept.value["text"], refuse.value["text"], mandatory=bool(_MANDATORY.search(text)))


def _split_consent(blocks: list[dict]) -> int | None:
    """Index of the block announcing the consent form (see module docstring), or None."""
    best: tuple[int, int] | None = None
    seen_content = False
    for index, block in enumerate(blocks):
        kind, value = block["type"], block["value"]
        if kind == "heading" and seen_content and _CONSENT_ANNOUNCE.search(value["text"]):
            rank = value["level"]
        elif kind == "paragraph" and seen_content and len(text := _html_text(value)) <= 80 \
                and _CONSENT_ANNOUNCE.search(text):
            rank = 4
        else:
            seen_content = seen_content or kind != "heading"
            continue
        if best is None or rank < best[0]:
            best = (rank, index)
    return best[1] if best else None


def _read(data: bytes, parts: dict[str, etree._Element], revisions: dict[str, int]) -> ImportResult:
    document = docx.Document(io.BytesIO(data))
    body = document.element.body
    if body is None:
        raise DocxRefused("Le document Word est vide ou endommagé : il n'a pas de corps de texte (w:body).")
    reader = _Reader(document, _footnote_texts(parts))
    reader.read(body)
    blocks, body_at, consent_at = _assemble(reader.pieces)
    start = body_at or 0
    split = consent_at if consent_at is not None and consent_at >= start else None
    if split is None:
        found = _split_consent(blocks[start:])
        split = start + found if found is not None else len(blocks)
    information, consent = blocks[start:split], blocks[split:]
    _note_side_parts(parts, reader.notes, revisions)
    title = (document.core_properties.title or "").strip() or next(
        (b["value"]["text"] for b in information + consent if b["type"] == "heading"), "")
    return ImportResult(information=information, consent=consent, unmapped=reader.notes.result(),
                        tracked_changes=revisions, title=title)


def _footnote_texts(parts: dict[str, etree._Element]) -> dict[str, str]:
    """Footnote and endnote texts by "kind:id", so a note about a dropped footnote can quote it."""
    texts = {}
    for name, tag, kind in (("word/footnotes.xml", "footnote", "note de bas de page"),
                            ("word/endnotes.xml", "endnote", "note de fin")):
        for note in parts[name].iter(W[tag]) if name in parts else ():
            texts[f"{kind}:{note.get(qn('w:id'), '')}"] = " ".join(t.text or "" for t in note.iter(W["t"]))
    return texts


def _note_side_parts(parts: dict[str, etree._Element], notes: _Notes, revisions: dict[str, int]) -> None:
    """Headers, footers and accepted revisions are not blocks: say so rather than drop them quietly."""
    seen: set[str] = set()
    for name in sorted(parts):
        if re.fullmatch(r"word/(?:header|footer)\d*\.xml", name):
            text = " ".join(" ".join(t.text or "" for t in parts[name].iter(W["t"])).split())
            if text and text not in seen:
                seen.add(text)
                kind = "en-tête" if "header" in name else "pied de page"
                notes.add(kind, f"{kind.capitalize()} non repris ({name}) « {_excerpt(text)} »")
    formatting = sum(sum(1 for _ in root.iter(*(W[t] for t in (
        "rPrChange", "pPrChange", "sectPrChange", "tblPrChange", "trPrChange", "tcPrChange"))))
        for name, root in parts.items() if name.startswith("word/"))
    if any(revisions.values()):
        notes.add("suivi des modifications", (
            f"Suivi des modifications accepté à l'import : {_plural(revisions['insertions'], 'insertion')} "
            f"intégrée(s), {_plural(revisions['deletions'], 'suppression')} appliquée(s), "
            f"{_plural(revisions['comments'], 'commentaire')} ignoré(s)"))
    if formatting:
        notes.add("mise en forme suivie", f"{_plural(formatting, 'modification')} de mise en forme suivie(s) "
                                          "ignorée(s) (le texte n'en dépend pas)")


# --------------------------------------------------------------------------------------------------------------
# Export
# --------------------------------------------------------------------------------------------------------------

def export_docx(*, title: str, subtitle: str, information: list[dict], consent: list[dict], footer: str) -> bytes:
    """Write a Word document an investigator can edit and that `import_docx` reads back to the same blocks."""
    document = docx.Document()
    _add_own_styles(document)
    document.core_properties.title = title
    document.add_paragraph(title, style="Title")
    if subtitle:
        document.add_paragraph(subtitle, style="Subtitle")
    _add_marker(document, BODY_BOOKMARK, 1)
    _write_blocks(document, information)
    _add_marker(document, CONSENT_BOOKMARK, 2)
    _write_blocks(document, consent)
    document.sections[0].footer.paragraphs[0].text = footer
    output = io.BytesIO()
    document.save(output)
    return output.getvalue()


def _add_own_styles(document: Any) -> None:
    for name, style_id in _OWN_STYLES.items():
        style = document.styles.add_style(name, WD_STYLE_TYPE.PARAGRAPH)
        style.style_id = style_id
        style.base_style = document.styles["Normal"]
        style.paragraph_format.space_after = Pt(6)
        if name == STYLE_CHOICES:
            style.paragraph_format.left_indent = Cm(1)
        if name == STYLE_STATEMENT_MANDATORY:
            style.font.bold = True


def _add_marker(document: Any, name: str, bookmark_id: int) -> None:
    """An empty paragraph holding a bookmark: invisible in Word, exact for the importer."""
    paragraph = document.add_paragraph()
    start = OxmlElement("w:bookmarkStart")
    start.set(qn("w:id"), str(bookmark_id))
    start.set(qn("w:name"), name)
    end = OxmlElement("w:bookmarkEnd")
    end.set(qn("w:id"), str(bookmark_id))
    paragraph._p.append(start)
    paragraph._p.append(end)


def _write_blocks(document: Any, blocks: list[dict]) -> None:
    for block in blocks:
        writer = _WRITERS.get(block.get("type"))
        if writer is None:
            raise ValueError(f"Unknown block type: {block.get('type')!r}")
        writer(document, block.get("value"))


def _write_heading(document: Any, value: dict) -> None:
    document.add_heading(value["text"], level=min(max(int(value.get("level", 1)), 1), 3))


class _InlineHtml(HTMLParser):
    """The paragraph HTML subset (<p>, <b>/<strong>, <i>/<em>, <br/>) as paragraphs of formatted runs."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.paragraphs: list[list[_Seg]] = [[]]
        self.bold = 0
        self.italic = 0

    def handle_starttag(self, tag: str, attrs: list) -> None:
        if tag in ("b", "strong"):
            self.bold += 1
        elif tag in ("i", "em"):
            self.italic += 1
        elif tag == "br":
            self.handle_data("\n")
        elif tag == "p" and self.paragraphs[-1]:
            self.paragraphs.append([])

    def handle_startendtag(self, tag: str, attrs: list) -> None:
        if tag == "br":
            self.handle_data("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("b", "strong"):
            self.bold = max(self.bold - 1, 0)
        elif tag in ("i", "em"):
            self.italic = max(self.italic - 1, 0)

    def handle_data(self, data: str) -> None:
        self.paragraphs[-1].append(_Seg(data, self.bold > 0, self.italic > 0))


def _write_paragraph(document: Any, value: str) -> None:
    parser = _InlineHtml()
    parser.feed(value or "")
    parser.close()
    for segs in parser.paragraphs:
        if not segs:
            continue
        paragraph = document.add_paragraph(style=STYLE_PARAGRAPH)
        for seg in segs:
            run = paragraph.add_run(seg.text)
            run.bold = seg.bold or None
            run.italic = seg.italic or None


def _write_list(document: Any, value: dict) -> None:
    numbered = value.get("style") == "numbered"
    style_name = "List Number" if numbered else "List Bullet"
    num_id = _new_numbering(document, style_name, restart=numbered)
    for item in value.get("items", []):
        paragraph = document.add_paragraph(style=style_name)
        paragraph.add_run(item)
        num_pr = paragraph._p.get_or_add_pPr().get_or_add_numPr()
        num_pr.get_or_add_ilvl().val = 0
        num_pr.get_or_add_numId().val = num_id


def _new_numbering(document: Any, style_name: str, *, restart: bool) -> int:
    """One numbering instance per list, so two adjacent lists stay two lists and each restarts at 1."""
    style_num = document.styles[style_name].element.find(f"{W['pPr']}/{W['numPr']}/{W['numId']}")
    numbering = document.part.numbering_part.element
    base = next(n for n in numbering.iter(W["num"]) if n.get(qn("w:numId")) == style_num.get(_VAL))
    num = numbering.add_num(int(base.find(W["abstractNumId"]).get(_VAL)))
    if restart:
        num.add_lvlOverride(ilvl=0).add_startOverride(1)
    return int(num.get(qn("w:numId")))


def _write_table(document: Any, value: dict) -> None:
    rows = [list(row) for row in value.get("rows", [])]
    if not rows:
        return
    header = bool(value.get("first_row_is_header"))
    table = document.add_table(rows=len(rows), cols=max(max(len(row) for row in rows), 1))
    table.style = document.styles["Table Grid"]
    _set_caption(table, CAPTION_TABLE)
    for row_index, (row, cells) in enumerate(zip(table.rows, rows, strict=True)):
        for cell, text in zip(row.cells, cells, strict=False):
            cell.paragraphs[0].add_run(text).bold = (header and row_index == 0) or None
        missing = len(row.cells) - max(len(cells), 1)
        for tc in row._tr.tc_lst[len(row._tr.tc_lst) - missing:] if missing else []:
            row._tr.remove(tc)
        if missing:
            _append(row._tr.get_or_add_trPr(), "w:gridAfter", str(missing))
        if header and row_index == 0:
            _append(row._tr.get_or_add_trPr(), "w:tblHeader", "1")


def _append(parent: etree._Element, tag: str, value: str) -> None:
    element = OxmlElement(tag)
    element.set(_VAL, value)
    parent.append(element)


def _set_caption(table: Any, caption: str) -> None:
    _append(table._tbl.tblPr, "w:tblCaption", caption)


def _write_statement(document: Any, value: dict) -> None:
    style = STYLE_STATEMENT_MANDATORY if value.get("mandatory") else STYLE_STATEMENT
    document.add_paragraph(value["text"], style=style)
    document.add_paragraph(f"☐ {value['accept_label']}   ☐ {value['refuse_label']}", style=STYLE_CHOICES)


def _write_checkbox(document: Any, value: dict) -> None:
    document.add_paragraph(f"☐ {value['text']}", style=STYLE_CHECKBOX)


def _write_fill_in(document: Any, value: dict) -> None:
    document.add_paragraph(f"{value['label']} : {'_' * 30}", style=STYLE_FILL_IN)


def _write_signature(document: Any, value: dict) -> None:
    """Label across the top, then Nom / Date / Heure / Signature lines to complete by hand."""
    role = value.get("role") if value.get("role") in ROLES else "participant"
    table = document.add_table(rows=5, cols=2)
    table.style = document.styles["Table Grid"]
    _set_caption(table, f"{CAPTION_SIGNATURE}{role}")
    label_cell = table.cell(0, 0).merge(table.cell(0, 1))
    label_cell.paragraphs[0].add_run(value.get("label", "")).bold = True
    for row_index, caption in enumerate(("Nom", "Date", "Heure", "Signature"), start=1):
        table.cell(row_index, 0).paragraphs[0].add_run(caption)
    table.rows[4].height = Cm(2)


def _write_page_break(document: Any, value: Any) -> None:
    document.add_page_break()


_WRITERS = {
    "heading": _write_heading,
    "paragraph": _write_paragraph,
    "list": _write_list,
    "table": _write_table,
    "consent_statement": _write_statement,
    "checkbox": _write_checkbox,
    "fill_in": _write_fill_in,
    "signature": _write_signature,
    "page_break": _write_page_break,
}
