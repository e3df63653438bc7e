"""Record sheets: a PDF copy (11.10(b)) of a record that has no file of its own — a letter typed into the system,
a protocol version held as structured text, a site's acknowledgement — for the TMF and its exports.

Deterministic (reportlab `invariant`), in the embedded DejaVu font so French text prints as typed.
"""

import io
from html import escape, unescape

from django.utils import timezone
from django.utils.html import strip_tags
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from consent.pdf import FONT, FONT_BOLD, _register_fonts

STYLES = {
    "title": ParagraphStyle("sheet-title", fontName=FONT_BOLD, fontSize=14, leading=18, spaceAfter=8),
    "head": ParagraphStyle("sheet-head", fontName=FONT, fontSize=8.5, leading=11, textColor=colors.grey),
    "cell": ParagraphStyle("sheet-cell", fontName=FONT, fontSize=9.5, leading=12),
    "label": ParagraphStyle("sheet-label", fontName=FONT_BOLD, fontSize=9.5, leading=12),
    "body": ParagraphStyle("sheet-body", fontName=FONT, fontSize=10, leading=13.5, spaceAfter=5),
}


def _paragraphs(text: str) -> list:
    return [Paragraph(escape(line), STYLES["body"]) for line in text.splitlines() if line.strip()]


def record_sheet(*, trial, title: str, rows: list[tuple[str, str]], body: str = "", footer: str = "") -> bytes:
    _register_fonts()
    buffer = io.BytesIO()
    document = SimpleDocTemplate(buffer, pagesize=A4, leftMargin=20 * mm, rightMargin=20 * mm, topMargin=18 * mm,
                                 bottomMargin=18 * mm, title=title, author=trial.sponsor_name,
                                 subject=trial.nct_number, creator="TrialDocs", producer="TrialDocs (reportlab)",
                                 invariant=1, lang="fr")
    story = [
        Paragraph(escape(f"{trial.acronym or trial.title} · {trial.nct_number} · {trial.sponsor_name}"),
                  STYLES["head"]),
        Spacer(1, 4 * mm),
        Paragraph(escape(title), STYLES["title"]),
        Table([[Paragraph(escape(label), STYLES["label"]), Paragraph(escape(str(value)), STYLES["cell"])]
               for label, value in rows if value not in (None, "")],
              colWidths=[50 * mm, 120 * mm],
              style=TableStyle([("GRID", (0, 0), (-1, -1), 0.4, colors.grey), ("VALIGN", (0, 0), (-1, -1), "TOP")])),
        Spacer(1, 6 * mm),
        *_paragraphs(body),
    ]
    if footer:
        story += [Spacer(1, 6 * mm), Paragraph(escape(footer), STYLES["head"])]
    document.build(story)
    return buffer.getvalue()


def _tmf_rows(document) -> list[tuple[str, str]]:
    return [("Classement TMF", f"{document.artifact.number} {document.artifact.name}"),
            ("Niveau", document.place), ("Statut", document.get_status_display())]


def letter_sheet(item, document) -> bytes:
    submission = item.get_parent().specific
    rows = [("Objet", item.title), ("Sens", item.get_direction_display()), ("Date", item.date.strftime("%d/%m/%Y")),
            ("Type", item.get_item_type_display()), ("Correspondant", item.correspondent),
            ("Référence", item.reference), ("Dossier", f"{submission.title} ({submission.correspondent_name})"),
            ("Pièces jointes", ", ".join(a.label or a.document.title for a in item.attachments.all())),
            *_tmf_rows(document)]
    body = unescape(strip_tags(item.body.replace("</p>", "</p>\n").replace("<br/>", "\n").replace("</li>", "</li>\n")))
    return record_sheet(trial=document.trial, title="Courrier réglementaire", rows=rows, body=body)


def protocol_sheet(version, document) -> bytes:
    from .filing import stream_text

    rows = [("Version", f"{version.version_number} du {version.version_date:%d/%m/%Y}"),
            ("Amendement", version.amendment_number or "—"),
            ("Modification substantielle", "oui" if version.substantial else "non"),
            ("Résumé des modifications", version.summary_of_changes), ("Justification", version.rationale),
            ("Sections concernées", version.affected_sections), *_tmf_rows(document)]
    return record_sheet(trial=document.trial, title=version.title, rows=rows, body=stream_text(version.body))


def acknowledgement_sheet(ack, document) -> bytes:
    activation = ack.activation
    when = timezone.localtime(ack.acknowledged_at)
    person = ack.acknowledged_by.get_full_name() or ack.acknowledged_by.get_username()
    rows = [("Site", f"{activation.site.code} — {activation.site.name}"), ("Version", activation.version.title),
            ("En vigueur au site depuis", f"{timezone.localtime(activation.effective_from):%d/%m/%Y %H:%M %Z}"),
            ("Prise de connaissance par", person), ("Le", f"{when:%d/%m/%Y %H:%M %Z}"), *_tmf_rows(document)]
    return record_sheet(trial=document.trial, title="Prise de connaissance d'un amendement", rows=rows,
                        footer="Enregistrement électronique horodaté par TrialDocs (heure du serveur, UTC).")
