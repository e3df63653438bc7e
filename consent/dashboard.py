"""A site's consent-status dashboard (reads only): how many participants are in each state, the participants of
one state, a bar chart drawn on the server (SVG, no script: the pages' Content-Security-Policy forbids inline
scripts), and the same rows as CSV or XLSX (cells formula-safe: `cms.cells.csv_cell`, `regulatory.spreadsheets`).

A participant can be in several states at once (withdrawn from the treatment and due to re-consent, say). The
number of queries does not grow with the number of participants: the states are `Exists` annotations counted in
one aggregate, and the listed rows prefetch their withdrawals and open tasks."""

import csv
import datetime
import io
from dataclasses import dataclass

from django.db.models import Count, Exists, OuterRef, Prefetch, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext
from openpyxl import Workbook
from openpyxl.styles import Font

from cms.cells import csv_cell
from regulatory.models import InvestigationalSite
from regulatory.spreadsheets import append_row

from .models import WITHDRAWAL_ORDER, ConsentRecord, ConsentTask, Participant, Withdrawal

STATES = {
    "consented": _("Taking part (consented)"),
    "declined": _("Declined (a consent refused)"),
    "withdrawn_treatment": _("Withdrawn from the study treatment"),
    "withdrawn_follow_up": _("Withdrawn from the follow-up visits"),
    "withdrawn_data_collection": _("Withdrawn from further data collection"),
    "withdrawn_data_use": _("Objected to the use of the data collected"),
    "reconsent_due": _("Re-consent due"),
    "overdue": _("Overdue (past its deadline)"),
    "inform": _("To inform of a new version"),
}


def _conditions(at: datetime.datetime) -> dict:
    """Each state as a condition on a participant row (an `Exists` on its records, tasks or withdrawals)."""
    open_tasks = ConsentTask.objects.filter(participant=OuterRef("pk"), closed_at__isnull=True, opens_at__lte=at)
    return {
        "consented": Q(status=Participant.Status.INCLUDED),
        "declined": Exists(ConsentRecord.objects.filter(participant=OuterRef("pk"),
                                                        outcome=ConsentRecord.Outcome.REFUSED)),
        **{f"withdrawn_{scope}": Exists(Withdrawal.objects.filter(participant=OuterRef("pk"), scope=scope))
           for scope in WITHDRAWAL_ORDER},
        "reconsent_due": Exists(open_tasks.filter(kind=ConsentTask.Kind.RECONSENT)),
        # a reminder to reassess the patient's capacity is never "overdue" (`ConsentTask.is_reminder`)
        "overdue": Exists(open_tasks.filter(due_at__lt=at).exclude(kind=ConsentTask.Kind.PATIENT_CONSENT)),
        "inform": Exists(open_tasks.filter(kind=ConsentTask.Kind.INFORM)),
    }


def _annotated(site: InvestigationalSite, at: datetime.datetime):
    return Participant.objects.filter(site=site).annotate(
        **{state: condition for state, condition in _conditions(at).items() if state != "consented"})


def _in_state(participant, state: str) -> bool:
    return participant.status == Participant.Status.INCLUDED if state == "consented" else getattr(participant, state)


@dataclass(frozen=True)
class Bar:
    state: str
    label: str
    count: int
    width: int  # in the SVG's units: the longest bar is BAR_SPACE long
    y: int

    @property
    def count_x(self) -> int:
        return BAR_X + self.width + 6


BAR_X, BAR_SPACE, BAR_STEP = 340, 250, 28


def counts(*, site: InvestigationalSite, at: datetime.datetime | None = None) -> dict[str, int]:
    """How many participants of the site are in each state now (one query)."""
    at = at or timezone.now()
    totals = Participant.objects.filter(site=site).aggregate(
        total=Count("pk"), **{state: Count("pk", filter=condition) for state, condition in _conditions(at).items()})
    return totals


def chart(totals: dict[str, int]) -> list[Bar]:
    """The bars of the chart, one per state, as SVG geometry (drawn by the template, no script)."""
    longest = max((totals[state] for state in STATES), default=0) or 1
    return [Bar(state, str(label), totals[state], round(BAR_SPACE * totals[state] / longest), BAR_STEP * index)
            for index, (state, label) in enumerate(STATES.items())]


def chart_height() -> int:
    return BAR_STEP * len(STATES)


def rows(*, site: InvestigationalSite, state: str = "", at: datetime.datetime | None = None):
    """The site's participants (of one state when `state` names one), with what they stopped and their open
    tasks prefetched (a fixed number of queries for any number of participants)."""
    at = at or timezone.now()
    participants = _annotated(site, at)
    if state in STATES:
        participants = participants.filter(_conditions(at)[state])
    return participants.order_by("number").prefetch_related(
        Prefetch("withdrawals", queryset=Withdrawal.objects.order_by("at", "pk")),
        Prefetch("tasks", queryset=ConsentTask.objects.filter(closed_at__isnull=True, opens_at__lte=at)
                 .select_related("target_version").order_by("due_at"), to_attr="open_tasks"))


COLUMNS = ("participant", "status", "included_at", "states", "withdrawn", "reasons", "tasks")


def _labels() -> list[str]:
    return [pgettext("dashboard export column", "Participant"), pgettext("dashboard export column", "Status"),
            pgettext("dashboard export column", "Included at (%(zone)s)") % {
                "zone": timezone.get_default_timezone_name()},
            pgettext("dashboard export column", "States"), pgettext("dashboard export column", "Withdrawn from"),
            pgettext("dashboard export column", "Reasons given for the withdrawal"),
            pgettext("dashboard export column", "Open tasks")]


def _values(participant) -> list[str]:
    local = timezone.get_default_timezone()
    return [
        participant.code, participant.get_status_display(),
        participant.included_at.astimezone(local).isoformat(timespec="minutes") if participant.included_at else "",
        "; ".join(str(label) for state, label in STATES.items() if _in_state(participant, state)),
        "; ".join(f"{w.get_scope_display()} ({w.at.astimezone(local):%Y-%m-%d %H:%M})"
                  for w in participant.withdrawals.all()),
        "; ".join(w.reason for w in participant.withdrawals.all() if w.reason and not w.implied_by),
        "; ".join(f"{t.get_kind_display()} — {t.get_form_kind_display()}"
                  + (f" v{t.target_version.version_number}" if t.target_version else "")
                  + f" ({t.due_at.astimezone(local):%Y-%m-%d})" for t in participant.open_tasks),
    ]


def as_csv(participants) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow([csv_cell(label) for label in _labels()])
    for participant in participants:
        writer.writerow([csv_cell(value) for value in _values(participant)])
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")


def as_xlsx(participants, *, title: str) -> bytes:
    book = Workbook()
    sheet = book.active
    sheet.title = title[:31]
    append_row(sheet, _labels(), font=Font(bold=True))
    for participant in participants:
        append_row(sheet, _values(participant))
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
