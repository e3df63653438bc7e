"""Record sheets: a PDF copy (11.10(b)) of a record that has no file of its own — a letter typed into the system,
a protocol version held as structured text, a site's acknowledgement — for the TMF and its exports.

Deterministic (reportlab `invariant`), in the embedded DejaVu font so French text prints as typed; PDF/A-2b
(`cms.pdfa`).
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

from cms.pdf_fonts import FONT, FONT_BOLD, register_fonts
from cms.pdfa import ArchivalCanvas

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
    register_fonts()
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
              style=TableStyle([("GRID", (0, 0), (-1, -1), 0.4, colors.grey), ("VALIGN", (0, 0), (-1, -1), "TOP"),
                               # else each cell sets the unembedded Helvetica (PDF/A: every font embedded)
                               ("FONTNAME", (0, 0), (-1, -1), FONT)])),
        Spacer(1, 6 * mm),
        *_paragraphs(body),
    ]
    if footer:
        story += [Spacer(1, 6 * mm), Paragraph(escape(footer), STYLES["head"])]
    document.build(story, canvasmaker=ArchivalCanvas)  # PDF/A-2b
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
    from regulatory.services import signatures_of
    from regulatory.tmf.filing import stream_text

    approvals = [("Approbation (signature électronique)", signature.meaning) for signature in signatures_of(version)]
    rows = [("Version", f"{version.version_number} du {version.version_date:%d/%m/%Y}"),
            ("Amendement", version.amendment_number or "—"),
            ("Modification substantielle", "oui" if version.substantial else "non"),
            ("Résumé des modifications", version.summary_of_changes), ("Justification", version.rationale),
            ("Sections concernées", version.affected_sections), *approvals, *_tmf_rows(document)]
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


def delegation_log_sheet(site, entries, *, number: int) -> bytes:
    """The site's delegation log as printed (landscape): one row per entry, with the principal investigator's
    signature (11.50: printed name, date and time, meaning) and the staff member's acknowledgement."""
    from reportlab.lib.pagesizes import landscape

    from regulatory.models import DelegatedTask

    register_fonts()
    labels = dict(DelegatedTask.choices)
    buffer = io.BytesIO()
    trial = site.trial
    title = f"Registre de délégation des tâches — {site.code} — version {number}"
    document = SimpleDocTemplate(buffer, pagesize=landscape(A4), leftMargin=12 * mm, rightMargin=12 * mm,
                                 topMargin=14 * mm, bottomMargin=40 * mm, title=title, author=site.name,
                                 subject=trial.nct_number, creator="TrialDocs", producer="TrialDocs (reportlab)",
                                 invariant=1, lang="fr")
    cell = STYLES["cell"]

    def para(text):
        return Paragraph(escape(str(text)), cell)

    rows = [[para(h) for h in ("Membre de l'équipe", "Tâches déléguées", "Du", "Au", "Signature de l'investigateur "
                                "principal", "Prise de connaissance")]]
    from django.utils import translation

    with translation.override("fr"):
        for entry in entries:
            rows.append([
                para(entry.staff_name),
                Paragraph("<br/>".join(escape(f"• {labels.get(task, task)}") for task in entry.tasks), cell),
                para(f"{entry.start_date:%d/%m/%Y}"),
                para(f"{entry.end_date:%d/%m/%Y}" if entry.end_date else "—"),
                para(entry.meaning),
                para(entry.acknowledgement_meaning or "En attente"),
            ])
    story = [
        Paragraph(escape(f"{trial.acronym or trial.title} · {trial.nct_number} · {trial.sponsor_name}"),
                  STYLES["head"]),
        Spacer(1, 3 * mm),
        Paragraph(escape(title), STYLES["title"]),
        Paragraph(escape(f"{site.name}, {site.city} — investigateur principal : {site.principal_investigator}"),
                  STYLES["body"]),
        Table(rows, colWidths=[40 * mm, 62 * mm, 20 * mm, 20 * mm, 66 * mm, 65 * mm], repeatRows=1,
              style=TableStyle([("GRID", (0, 0), (-1, -1), 0.4, colors.grey), ("VALIGN", (0, 0), (-1, -1), "TOP"),
                                ("BACKGROUND", (0, 0), (-1, 0), colors.whitesmoke)])),
        Spacer(1, 4 * mm),
        Paragraph(escape("Chaque entrée est signée électroniquement par l'investigateur principal (nom d'utilisateur "
                         "et mot de passe, 21 CFR 11.200) et prise en compte par le membre de l'équipe ; TrialDocs "
                         "n'autorise une tâche qu'à qui la détient ce jour-là (ICH E6(R3) 2.3.3)."), STYLES["head"]),
    ]
    document.build(story)
    return buffer.getvalue()
