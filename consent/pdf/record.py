"""A consent record (`render_consent_record`): the form as it was answered and signed, then the record sheet of who
signed what and when, with the address (and QR code) where the signed file is verified."""

import io
from dataclasses import dataclass

from reportlab.lib import colors
from reportlab.lib.units import mm
from reportlab.platypus import PageBreak

from cms.pdf_fonts import register_fonts as _register_fonts

from .blocks import FILL_IN_LABEL_WIDTH, TickBox, _block_flowables
from .document import FormToPrint, TrialHeader, _canvas_class, _document, _form_story
from .flowables import Keep, Para, Space, Table
from .markup import _text
from .styles import MARGIN, PAGE_WIDTH, STYLES, _style


@dataclass(frozen=True)
class SignerToPrint:
    printed_name: str
    signed_at: str        # date and time with the time zone, e.g. "25/11/2026 14:03 (Europe/Paris, UTC+01:00)"
    meaning: str          # "Consentement recueilli par", "Signé par le participant", "Signé par le proche (fille)",
    #                       "Signé par le proche (fille), en qualité de représentant du patient hors d'état…"
    image_png: bytes | None = None
    roles: tuple = ()     # the form's signature blocks this signer fills ("participant", "surrogate"…)


@dataclass(frozen=True)
class RecordToPrint:
    """The consent record printed after the form it concerns."""

    participant_code: str
    outcome: str
    facts: list            # [(label, value)]
    statements: list       # [(statement text, answer label, accepted: bool | None)]
    signers: list          # [SignerToPrint]
    verification_url: str
    answers: dict = None   # consent block position → {"type", "answer", "label"}: what was answered there
    comprehension: list = ()        # [(question, what was answered, the right answer, attempts and discussion)]
    countersignature_page: bool = False  # a last page where the later countersignature's stamp will be drawn


# Where the investigator's later countersignature is stamped (points, on the last page, which then holds nothing
# else): `consent.services.records.consent_countersign` signs a new revision with its visible stamp here.
COUNTERSIGNATURE_BOX = (MARGIN, 120 * mm, PAGE_WIDTH - MARGIN, 175 * mm)


def render_consent_record(form: FormToPrint, record: RecordToPrint, *, header: TrialHeader) -> bytes:
    """The exact text of the version that was signed, its consent part as it was answered and signed (never a
    blank form to fill), followed by the record of who signed what, and when."""
    _register_fonts()
    buffer = io.BytesIO()
    document = _document(buffer, title=f"Consentement {record.participant_code} — {form.title}", header=header)
    filled = _filler(record) if record.answers is not None else None
    document.build(_form_story(form, 0, filled) + _record_story(record), canvasmaker=_canvas_class([form], header))
    return buffer.getvalue()


def _filler(record: RecordToPrint):
    """The consent part as answered: the chosen box of each statement ticked, tick boxes as left, blanks as
    written, signature blocks signed (or marked as not applying)."""
    answers = record.answers or {}
    by_role = {}
    for signer in record.signers:
        for role in signer.roles:
            by_role.setdefault(role, signer)

    def filled(position: int, block: dict) -> list:
        kind, value = block["type"], block["value"]
        answer = answers.get(position)
        if kind == "consent_statement" and answer:
            statement = _text(value["text"]) + (" <b>*</b>" if value.get("mandatory") else "")
            accepted = answer["answer"] == "accept"
            choices = Table([[MarkedBox(accepted), Para(_text(value["accept_label"]), STYLES["body"]),
                              MarkedBox(not accepted), Para(_text(value["refuse_label"]), STYLES["body"])]],
                            colWidths=[7 * mm, 70 * mm, 7 * mm, None])
            choices.setStyle(_style(*[("VALIGN", (0, 0), (-1, -1), "TOP"), ("LEFTPADDING", (0, 0), (-1, -1), 0)]))
            return [Keep([Para(statement, STYLES["body"]), choices, Space(1, 4)])]
        if kind == "checkbox" and answer:
            return [_answer_box(answer["answer"] == "accept", _text(value["text"]))]
        if kind == "fill_in" and answer:
            table = Table([[Para(_text(value["label"]), STYLES["body"]),
                            Para(f"<b>{_text(answer['label'])}</b>", STYLES["body"])]],
                          colWidths=[FILL_IN_LABEL_WIDTH, None])
            table.setStyle(_style(("VALIGN", (0, 0), (-1, -1), "TOP"), ("LEFTPADDING", (0, 0), (0, 0), 0),
                                  ("LINEBELOW", (1, 0), (1, 0), 0.5, colors.grey)))
            return [table, Space(1, 4)]
        if kind == "signature":
            return _signature_flowables(value["label"], by_role.get(value["role"]))
        return _block_flowables(block)

    return filled


def _signature_flowables(label: str, signer: "SignerToPrint | None") -> list:
    """A signature block of the form, filled with who signed, when, and the hand signature when there is one."""
    from reportlab.platypus import Image

    if signer is None:
        rows = [[Para(f"<b>{_text(label)}</b>", STYLES["body"]), ""],
                [Para("Sans objet pour ce recueil (personne n'a signé à ce titre)", STYLES["cell"]), ""]]
    else:
        picture = ""
        if signer.image_png:
            picture = Image(io.BytesIO(signer.image_png), width=55 * mm, height=20 * mm, kind="proportional")
        else:
            picture = Para("Signature électronique (identifiant et mot de passe)", STYLES["cell"])
        rows = [[Para(f"<b>{_text(label)}</b>", STYLES["body"]), picture],
                [Para(_text(signer.printed_name), STYLES["body"]), ""],
                [Para(f"{_text(signer.meaning)}, le {_text(signer.signed_at)}", STYLES["cell"]), ""]]
    table = Table(rows, colWidths=[95 * mm, None])
    table.setStyle(_style(("SPAN", (1, 0), (1, len(rows) - 1)), ("BOX", (0, 0), (-1, -1), 0.6, colors.grey),
                          ("VALIGN", (0, 0), (-1, -1), "MIDDLE")))
    return [Keep([table, Space(1, 6)])]


def _answer_box(ticked: bool, text: str) -> Table:
    table = Table([[MarkedBox(ticked), Para(text, STYLES["body"])]], colWidths=[7 * mm, None])
    table.setStyle(_style(*[("VALIGN", (0, 0), (-1, -1), "TOP"), ("LEFTPADDING", (0, 0), (-1, -1), 0),
                            ("TOPPADDING", (0, 0), (0, 0), 2)]))
    return table


class MarkedBox(TickBox):
    """A box that is ticked (drawn cross) or left empty."""

    def __init__(self, ticked: bool, size: float = 4 * mm):
        super().__init__(size)
        self.ticked = ticked

    def draw(self):
        super().draw()
        if self.ticked:
            self.canv.setLineWidth(1.2)
            self.canv.line(0.8, 0.8, self.size - 0.8, self.size - 0.8)
            self.canv.line(0.8, self.size - 0.8, self.size - 0.8, 0.8)


def _record_story(record: RecordToPrint) -> list:
    from reportlab.platypus import Image

    story = [PageBreak(), Para("Recueil du consentement", STYLES["part"])]
    facts = [[Para(f"<b>{_text(label)}</b>", STYLES["cell"]), Para(_text(value), STYLES["cell"])]
             for label, value in [("Participant", record.participant_code), ("Décision", record.outcome),
                                  *record.facts]]
    table = Table(facts, colWidths=[55 * mm, None])
    table.setStyle(_style(("GRID", (0, 0), (-1, -1), 0.5, colors.grey), ("VALIGN", (0, 0), (-1, -1), "TOP")))
    story += [table, Space(1, 6)]
    if record.statements and record.answers is None:  # the answers are not in the form above: list them here
        story.append(Para("Déclarations", STYLES[2]))
        for text, answer, accepted in record.statements:
            row = Table([[MarkedBox(accepted is True), Para(_text(text), STYLES["body"]),
                          Para(f"<b>{_text(answer)}</b>", STYLES["body"])]], colWidths=[7 * mm, None, 45 * mm])
            row.setStyle(_style(("VALIGN", (0, 0), (-1, -1), "TOP"), ("LEFTPADDING", (0, 0), (-1, -1), 0)))
            story.append(row)
    story.append(Para("Signatures", STYLES[2]))
    for signer in record.signers:
        picture = ""
        if signer.image_png:
            picture = Image(io.BytesIO(signer.image_png), width=60 * mm, height=22 * mm, kind="proportional")
        block = Table([
            [Para(f"<b>{_text(signer.meaning)}</b>", STYLES["body"]), picture],
            [Para(_text(signer.printed_name), STYLES["body"]), ""],
            [Para(_text(signer.signed_at), STYLES["cell"]), ""],
        ], colWidths=[95 * mm, None], rowHeights=[None, None, None])
        block.setStyle(_style(("SPAN", (1, 0), (1, 2)), ("BOX", (0, 0), (-1, -1), 0.6, colors.grey),
                              ("VALIGN", (0, 0), (-1, -1), "MIDDLE")))
        story += [Keep([block, Space(1, 5)])]
    if record.comprehension:
        story.append(Para("Questions de compréhension", STYLES[2]))
        rows = [[Para(f"<b>{_text(question)}</b>", STYLES["cell"]), Para(_text(answer), STYLES["cell"])]
                for question, answer in record.comprehension]
        table = Table(rows, colWidths=[70 * mm, None])
        table.setStyle(_style(("GRID", (0, 0), (-1, -1), 0.5, colors.grey), ("VALIGN", (0, 0), (-1, -1), "TOP")))
        story += [table, Space(1, 6)]
    verification = Table([[_qr(record.verification_url), Para(
        "Ce document est signé électroniquement (PAdES) par le centre. Pour le vérifier, ouvrez "
        f"<b>{_text(record.verification_url)}</b> ou déposez le fichier PDF sur la page de vérification de "
        "TrialDocs.", STYLES["cell"])]], colWidths=[32 * mm, None])
    verification.setStyle(_style(("VALIGN", (0, 0), (-1, -1), "MIDDLE")))
    story += [Space(1, 6), verification]
    if record.countersignature_page:
        story += [PageBreak(), Para("Contresignature de l'investigateur", STYLES["part"]), Para(
            "Ce consentement attend la contresignature de l'investigateur : tant qu'elle n'est pas donnée, ce "
            "document n'est pas un consentement. Elle s'ajoute ci-dessous comme une nouvelle révision signée du "
            "document (les révisions précédentes restent intactes et vérifiables).", STYLES["body"])]
    return story


def _qr(url: str, size: float = 28 * mm):
    from reportlab.graphics.barcode.qr import QrCodeWidget
    from reportlab.graphics.shapes import Drawing

    widget = QrCodeWidget(url)
    x1, y1, x2, y2 = widget.getBounds()
    drawing = Drawing(size, size, transform=[size / (x2 - x1), 0, 0, size / (y2 - y1), 0, 0])
    drawing.add(widget)
    return drawing
