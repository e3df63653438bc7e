"""What `import_docx` and `export_docx` agree on.

Documents written by `export_docx` carry their own paragraph styles ("TrialDocs …"), table captions
("TrialDocs:…") and two bookmarks marking where the body and the consent part start: those are read exactly, so
`import_docx(export_docx(...))` gives back the same blocks. Both directions also share the WordprocessingML tag
names and the formatted text segment (`Seg`) that runs are read into and paragraph HTML is written from.
"""

from __future__ import annotations

from dataclasses import dataclass

from docx.oxml.ns import qn

BODY_BOOKMARK = "TrialDocs_body"
CONSENT_BOOKMARK = "TrialDocs_consent"
STYLE_PARAGRAPH = "TrialDocs Texte"
STYLE_STATEMENT = "TrialDocs Déclaration"
STYLE_STATEMENT_MANDATORY = "TrialDocs Déclaration obligatoire"
STYLE_CHOICES = "TrialDocs Choix"
STYLE_CHECKBOX = "TrialDocs Case à cocher"
STYLE_FILL_IN = "TrialDocs Champ à remplir"
OWN_STYLES = {
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
VAL = qn("w:val")


@dataclass
class Seg:
    """Text in one formatting: a stretch of a Word run as read, or of paragraph HTML to write."""

    text: str
    bold: bool
    italic: bool
