"""`import_docx`: an uploaded .docx, once `safety` has passed it, read into neutral blocks.

Tracked changes and comments are never flattened silently: they refuse the import unless the caller says
`allow_tracked_changes=True`, and then the counts travel in `ImportResult.tracked_changes` (the text read is the
document with every change accepted: insertions kept, deletions dropped). The body is walked in document order
into pieces (`body`: `wordxml` reads the text, `heuristics` guesses what documents we did not write mean) that
`assembly.assemble` merges into blocks, then split into the information and consent parts.
"""

from __future__ import annotations

import io
import logging
import re
from dataclasses import dataclass

import docx
from docx.oxml.ns import qn
from lxml import etree

from .assembly import assemble
from .body import BodyReader, Notes
from .heuristics import propose_title, split_consent, title_text
from .markers import W
from .safety import DocxRefused, attached_templates, checked_parts, count_revisions, plural, revision_reason
from .wordxml import excerpt

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ImportResult:
    """What an import gives back: the two parts of the form and what the caller must show or record."""

    information: list[dict]
    consent: list[dict]
    unmapped: list[str]
    tracked_changes: dict
    title: str  # the document's own title (`heuristics.propose_title`), "" when it has none
    title_at: int | None = None  # where that title is in `information`, when it is there


# --------------------------------------------------------------------------------------------------------------
# Public entry point
# --------------------------------------------------------------------------------------------------------------

def import_docx(data: bytes, *, allow_tracked_changes: bool = False) -> ImportResult:
    """Read an uploaded .docx into neutral blocks, refusing hostile or unfaithful files with a clear reason."""
    try:
        parts = checked_parts(data)
        revisions = count_revisions(parts)
        if not allow_tracked_changes and any(revisions.values()):
            raise DocxRefused(revision_reason(revisions))
        return _read(data, parts, revisions)
    except DocxRefused:
        raise
    except Exception as exc:  # a malformed file must become a refusal for the user, never a server error
        logger.warning("docx import failed on an unexpected error", exc_info=True)
        raise DocxRefused(
            "Le fichier n'a pas pu être lu comme un document Word (.docx) : il semble endommagé. "
            "Ouvrez-le dans Word et enregistrez-le à nouveau au format .docx.") from exc


# --------------------------------------------------------------------------------------------------------------
# Blocks, the consent split and what the blocks leave out
# --------------------------------------------------------------------------------------------------------------

def _read(data: bytes, parts: dict[str, etree._Element], revisions: dict[str, int]) -> ImportResult:
    document = docx.Document(io.BytesIO(data))
    body = document.element.body
    if body is None:
        raise DocxRefused("Le document Word est vide ou endommagé : il n'a pas de corps de texte (w:body).")
    reader = BodyReader(document, _footnote_texts(parts))
    reader.read(body)
    blocks, body_at, consent_at = assemble(reader.pieces)
    start = body_at or 0
    split = consent_at if consent_at is not None and consent_at >= start else None
    found = propose_title(blocks)
    if split is None:
        announced = split_consent(blocks[start:], title_at=found - start if found is not None else None)
        split = start + announced if announced is not None else len(blocks)
    information, consent = blocks[start:split], blocks[split:]
    _note_side_parts(parts, reader.notes, revisions)
    for target in attached_templates(parts):
        reader.notes.add("modèle attaché", f"Lien vers le modèle Word attaché retiré (jamais ouvert ; le texte n'en "
                                           f"dépend pas) « {excerpt(target, 100)} »")
    title = title_text(blocks[found]["value"]["text"]) if found is not None else ""
    title_at = found - start if found is not None and start <= found < split else None
    return ImportResult(information=information, consent=consent, unmapped=reader.notes.result(),
                        tracked_changes=revisions, title=title, title_at=title_at)


def _footnote_texts(parts: dict[str, etree._Element]) -> dict[str, str]:
    """Footnote and endnote texts by "kind:id", so a note about a dropped footnote can quote it."""
    texts = {}
    for name, tag, kind in (("word/footnotes.xml", "footnote", "note de bas de page"),
                            ("word/endnotes.xml", "endnote", "note de fin")):
        for note in parts[name].iter(W[tag]) if name in parts else ():
            texts[f"{kind}:{note.get(qn('w:id'), '')}"] = " ".join(t.text or "" for t in note.iter(W["t"]))
    return texts


def _note_side_parts(parts: dict[str, etree._Element], notes: Notes, revisions: dict[str, int]) -> None:
    """Headers, footers and accepted revisions are not blocks: say so rather than drop them quietly."""
    seen: set[str] = set()
    for name in sorted(parts):
        if re.fullmatch(r"word/(?:header|footer)\d*\.xml", name):
            text = " ".join(" ".join(t.text or "" for t in parts[name].iter(W["t"])).split())
            if text and text not in seen:
                seen.add(text)
                kind = "en-tête" if "header" in name else "pied de page"
                notes.add(kind, f"{kind.capitalize()} non repris ({name}) « {excerpt(text)} »")
    formatting = sum(sum(1 for _ in root.iter(*(W[t] for t in (
        "rPrChange", "pPrChange", "sectPrChange", "tblPrChange", "trPrChange", "tcPrChange"))))
        for name, root in parts.items() if name.startswith("word/"))
    if any(revisions.values()):
        notes.add("suivi des modifications", (
            f"Suivi des modifications accepté à l'import : {plural(revisions['insertions'], 'insertion')} "
            f"intégrée(s), {plural(revisions['deletions'], 'suppression')} appliquée(s), "
            f"{plural(revisions['comments'], 'commentaire')} ignoré(s)"))
    if formatting:
        notes.add("mise en forme suivie", f"{plural(formatting, 'modification')} de mise en forme suivie(s) "
                                          "ignorée(s) (le texte n'en dépend pas)")
