"""Pieces (`heuristics.Piece`) assembled into blocks: list items, statements, choices and tick-box pairs merged,
a line that is only a blank labelled, and each guessed signature given its role (rules: `heuristics`)."""

from __future__ import annotations

import html
import re

from .heuristics import ACCEPT, REFUSE, Piece, html_text, paragraph_html
from .markers import BODY_BOOKMARK, CONSENT_BOOKMARK, Seg

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


def assemble(pieces: list[Piece]) -> tuple[list[dict], int | None, int | None]:
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


def _signature_role(piece: Piece, last_heading: str) -> str:
    """Role named by the label, else by the statement above it (grids), else by its section heading."""
    return (_guess_role(piece.value["label"]) or _guess_role(piece.context) or _guess_role(last_heading)
            or "participant")


def _guess_role(text: str) -> str | None:
    """The role named first in the text wins: "Signature of investigator for LAR" is the investigator's."""
    match = _ROLE.search(text or "")
    return match.lastgroup if match else None


def _bare_blank(blocks: list[dict]) -> dict:
    """A line that is only a blank is labelled by the paragraph above it ("Commentaires :" then "_____")."""
    label = html_text(blocks.pop()["value"]) if blocks and blocks[-1]["type"] == "paragraph" else ""
    return {"type": "fill_in", "value": {"label": label.rstrip(" :") or "À compléter"}}


def _statement(text: str, accept: str, refuse: str, *, mandatory: bool) -> dict:
    return {"type": "consent_statement",
            "value": {"text": text, "accept_label": accept, "refuse_label": refuse, "mandatory": mandatory}}


def _choice_statement(choice: dict, blocks: list[dict]) -> dict:
    """A choice line takes its own leading text as the statement, else the paragraph just above."""
    text = choice["prefix"]
    if len(re.findall(r"[^\W\d_]", text)) < 3:
        if not (blocks and blocks[-1]["type"] == "paragraph"):
            return {"type": "paragraph", "value": paragraph_html([Seg(
                f"☐ {choice['accept']}   ☐ {choice['refuse']}", False, False)])}
        text = html_text(blocks.pop()["value"])
    return _statement(text, choice["accept"], choice["refuse"], mandatory=bool(_MANDATORY.search(text)))


def _is_checkbox_pair(first: Piece, second: Piece | None) -> bool:
    return (second is not None and second.kind == "checkbox" and bool(ACCEPT.match(first.value["text"]))
            and bool(REFUSE.match(second.value["text"])) and not ACCEPT.match(second.value["text"]))


def _pair_statement(accept: Piece, refuse: Piece, blocks: list[dict]) -> dict:
    text = html_text(blocks.pop()["value"]) if blocks and blocks[-1]["type"] == "paragraph" else accept.value["text"]
    return _statement(text, accept.value["text"], refuse.value["text"], mandatory=bool(_MANDATORY.search(text)))
