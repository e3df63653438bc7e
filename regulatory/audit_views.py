"""The audit trail, read in the browser and exported as CSV (21 CFR 11.10(e)): who did what, when, to what.

Administrators read every entry. Anyone else reads only the entries of the trials they may read trial-wide
(`permissions.can_read_trial_wide`: sponsor, QA, TMF QC, an inspector in an open window): never an entry without a
trial (logins, accounts), never another trial's. Scoping is a queryset filter applied before any other, so
neither the filters nor the export reach further. Reading and exporting write nothing.
"""

import csv
import datetime
import json
from urllib.parse import urlencode

from django import forms
from django.contrib.auth.views import redirect_to_login
from django.core.paginator import Paginator
from django.db.models import Q, QuerySet
from django.http import Http404, StreamingHttpResponse
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_GET

from cms.cells import csv_cell

from . import permissions
from .audit_labels import action_label
from .forms import MAX_ID, PageChoiceField
from .models import AuditEntry, TrialPage

PAGE_SIZE = 50
NONE = "—"


# --- Who reads what ---------------------------------------------------------------------------------

def visible_entries(user, trials: QuerySet[TrialPage] | None = None) -> QuerySet[AuditEntry]:
    """Every audit entry `user` may read (`trials`: their `permissions.trials_read_trial_wide`, when already at
    hand). Entries without a trial are an administrator's only."""
    if permissions.is_administrator(user):
        return AuditEntry.objects.all()
    if not permissions.is_authenticated(user):
        return AuditEntry.objects.none()
    trials = permissions.trials_read_trial_wide(user) if trials is None else trials
    trial_ids = list(trials.values_list("pk", flat=True))
    entries = AuditEntry.objects.filter(trial_id__in=trial_ids)
    hidden = _unreadable_sites_entries(user, trial_ids)
    # Excluded through a subquery: a JSON key an entry lacks is NULL, and NOT (… OR NULL) would drop the entry too.
    return entries if hidden is None else entries.exclude(pk__in=entries.filter(hidden).values("pk"))


def _unreadable_sites_entries(user, trial_ids) -> Q | None:
    """Entries about the sites of these trials that `user` may not read (an inspection window on some sites only):
    the sites and what belongs to them (below, and what other apps registered: `audit.register_site_owned`), and
    entries naming them as their site, role group or page path."""
    from django.contrib.auth.models import Group

    from . import audit
    from .models import InvestigationalSite, SiteAcknowledgement, SiteActivation, TmfDocument

    hidden = list(permissions.sites_not_read(user, trial_ids))
    if not hidden:
        return None
    owned = {
        "regulatory.investigationalsite": InvestigationalSite.objects.filter(pk__in=[s.pk for s in hidden]),
        "regulatory.siteactivation": SiteActivation.objects.filter(site__in=hidden),
        "regulatory.siteacknowledgement": SiteAcknowledgement.objects.filter(activation__site__in=hidden),
        "regulatory.tmfdocument": TmfDocument.objects.filter(site__in=hidden),
        "auth.group": Group.objects.filter(trial_role__site__in=hidden),
        **{object_type: objects_of(hidden) for object_type, objects_of in audit.SITE_OWNED.items()},
    }
    about = Q(pk__in=[])
    for object_type, objects in owned.items():
        about |= Q(object_type=object_type, object_id__in=[str(pk) for pk in objects.values_list("pk", flat=True)])
    for site in hidden:
        about |= (Q(changes__site=[None, site.code]) | Q(changes__path__1__icontains=f"/sites/{site.code}/"))
    for name in Group.objects.filter(trial_role__site__in=hidden).values_list("name", flat=True):
        about |= Q(changes__role=[None, name]) | Q(changes__role=[name, None])
    return about


# --- Filters ----------------------------------------------------------------------------------------

class DateInput(forms.DateInput):
    input_type = "date"

    def __init__(self, attrs=None):
        super().__init__(attrs=attrs, format="%Y-%m-%d")


class AuditFilterForm(forms.Form):
    trial = PageChoiceField(queryset=TrialPage.objects.none(), required=False, label=_("Trial"),
                            empty_label=_("All trials"))
    object_type = forms.CharField(label=_("Object type"), required=False, max_length=100)
    object_id = forms.CharField(label=_("Object id"), required=False, max_length=64)
    actor = forms.IntegerField(label=_("Actor (user id)"), required=False, min_value=1, max_value=MAX_ID)
    action = forms.CharField(label=_("Action starts with"), required=False, max_length=64)
    date_from = forms.DateField(label=_("From (date)"), required=False, widget=DateInput)
    date_to = forms.DateField(label=_("To (date)"), required=False, widget=DateInput)

    def __init__(self, *args, trials: QuerySet[TrialPage], fixed: tuple[str, ...] = (), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["trial"].queryset = trials
        for name in fixed:
            del self.fields[name]

    def clean(self):
        data = super().clean()
        for name in ("date_from", "date_to"):
            if data.get(name) and not 1900 <= data[name].year < 9999:  # their local midnights would overflow
                self.add_error(name, forms.DateField.default_error_messages["invalid"])
        start, end = data.get("date_from"), data.get("date_to")
        if start and end and end < start:
            raise forms.ValidationError(_("The end date is before the start date."))
        return data

    def filter(self, entries: QuerySet[AuditEntry]) -> QuerySet[AuditEntry]:
        """The entries matching the filters; none at all when a filter is invalid (never more than asked)."""
        if not self.is_valid():
            return entries.none()
        data = self.cleaned_data
        if data.get("trial"):
            entries = entries.filter(trial=data["trial"])
        if data.get("object_type"):
            entries = entries.filter(object_type=data["object_type"].strip().lower())
        if data.get("object_id"):
            entries = entries.filter(object_id=data["object_id"].strip())
        if data.get("actor"):
            entries = entries.filter(actor_id=data["actor"])
        if data.get("action"):
            entries = entries.filter(action__startswith=data["action"].strip())
        if data.get("date_from"):
            entries = entries.filter(timestamp__gte=_local_midnight(data["date_from"]))
        if data.get("date_to"):
            entries = entries.filter(timestamp__lt=_local_midnight(data["date_to"] + datetime.timedelta(days=1)))
        return entries


def _local_midnight(day: datetime.date) -> datetime.datetime:
    """The start of `day` in the displayed time zone (Europe/Paris), as an aware datetime."""
    return timezone.make_aware(datetime.datetime.combine(day, datetime.time.min), timezone.get_current_timezone())


# --- Display ----------------------------------------------------------------------------------------

def _text(value) -> str:
    if value is None:
        return NONE
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


def change_lines(changes) -> list[dict]:
    """An entry's changes as lines: {field, old, new} for an old → new pair, {field, value} for anything else."""
    if not isinstance(changes, dict):
        return [{"field": "", "value": _text(changes)}] if changes else []
    lines = []
    for field, value in changes.items():
        if isinstance(value, list) and len(value) == 2:
            lines.append({"field": field, "old": _text(value[0]), "new": _text(value[1]), "pair": True})
        else:
            lines.append({"field": field, "value": _text(value), "pair": False})
    return lines


def _object_kind(object_type: str) -> str:
    """"consent.consentformversionpage" → "Consent form version" (the model's name in the active language)."""
    from django.apps import apps
    from django.utils.text import capfirst

    try:
        return str(capfirst(apps.get_model(object_type)._meta.verbose_name))
    except (LookupError, ValueError):
        return object_type


def _person(entry) -> str:
    """The actor's full name when the account has one ("Claire Coord (démo)"), else the name recorded."""
    actor = entry.actor
    if actor is None and entry.actor_label == "system":
        return gettext("System")  # what the system did by itself (scheduled publications, the demo loader)
    return (actor.get_full_name() if actor is not None else "") or entry.actor_label


def _rows(entries) -> list[dict]:
    return [{"entry": entry, "changes": change_lines(entry.changes), "action": action_label(entry.action),
             "person": _person(entry), "object_kind": _object_kind(entry.object_type) if entry.object_type else "",
             "object_url": reverse("audit_object", args=[entry.object_type, entry.object_id])
             if entry.object_type and entry.object_id and "/" not in entry.object_type + entry.object_id else "",
             "actor_url": reverse("audit_user", args=[entry.actor_id]) if entry.actor_id else ""}
            for entry in entries]


# --- CSV --------------------------------------------------------------------------------------------

class _Echo:
    def write(self, value):
        return value


def _csv_response(entries: QuerySet[AuditEntry]) -> StreamingHttpResponse:
    """The rows, newest first, in UTF-8 with a byte-order mark (for Excel), streamed."""
    zone = timezone.get_current_timezone()
    header = [gettext("Sequence"), gettext("Time (%(zone)s)") % {"zone": zone}, gettext("Time (UTC)"),
              gettext("Actor"), gettext("Actor (user id)"), gettext("Action"), gettext("Trial"),
              gettext("Object type"), gettext("Object id"), gettext("Object"), gettext("Changes (old → new)"),
              gettext("Reason"), gettext("Request id"), gettext("Hash of the previous entry"),
              gettext("Entry hash")]
    writer = csv.writer(_Echo())

    def rows():
        yield "\ufeff" + writer.writerow([csv_cell(cell) for cell in header])
        for entry in entries.select_related("trial").iterator(chunk_size=2000):
            yield writer.writerow([csv_cell(cell) for cell in (
                entry.sequence,
                timezone.localtime(entry.timestamp, zone).isoformat(timespec="microseconds"),
                entry.timestamp.astimezone(datetime.UTC).isoformat(timespec="microseconds"),
                entry.actor_label, entry.actor_id or "", entry.action,
                entry.trial.nct_number if entry.trial_id else "",
                entry.object_type, entry.object_id, entry.object_repr,
                json.dumps(entry.changes, ensure_ascii=False, sort_keys=True) if entry.changes else "",
                entry.reason, entry.request_id, entry.previous_hash, entry.entry_hash,
            )])

    response = StreamingHttpResponse((chunk.encode("utf-8") for chunk in rows()),
                                     content_type="text/csv; charset=utf-8")
    stamp = timezone.localtime(timezone.now(), zone).strftime("%Y%m%d-%H%M%S")
    response["Content-Disposition"] = f'attachment; filename="audit-trail-{stamp}.csv"'
    return response


# --- Views ------------------------------------------------------------------------------------------

def _listing(request, *, fixed: dict, hidden: tuple[str, ...] = (), title: str, context: dict | None = None):
    """The shared body of the three views: scope, fixed filters (`hidden` from the form), the form's filters,
    then a page of HTML or the whole CSV."""
    user = request.user
    if not user.is_authenticated:
        return redirect_to_login(request.get_full_path())
    trials = permissions.trials_read_trial_wide(user)
    if not permissions.is_administrator(user) and not trials.exists():
        raise Http404
    entries = visible_entries(user, trials).filter(**fixed)
    form = AuditFilterForm(request.GET or None, trials=trials.order_by("nct_number"), fixed=hidden)
    if request.GET:
        entries = form.filter(entries)
    entries = entries.order_by("-sequence", "-pk")
    if request.GET.get("format") == "csv":
        return _csv_response(entries)
    page = Paginator(entries.select_related("trial", "actor"), PAGE_SIZE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    query.pop("format", None)
    filters = urlencode(list(query.lists()), doseq=True)
    return TemplateResponse(request, "regulatory/audit/list.html", {
        "title": title, "form": form, "page_obj": page, "rows": _rows(page.object_list),
        "filters": filters, "csv_query": urlencode([*query.lists(), ("format", ["csv"])], doseq=True),
        "is_administrator": permissions.is_administrator(user), **(context or {}),
    })


@require_GET
def audit_list(request):
    return _listing(request, fixed={}, title=gettext("Audit trail"))


@require_GET
def audit_object(request, object_type: str, object_id: str):
    """Every entry about one object, e.g. /audit/object/regulatory.investigationalsite/3/."""
    label = (visible_entries(request.user).filter(object_type=object_type, object_id=object_id)
             .exclude(object_repr="").order_by("-sequence").values_list("object_repr", flat=True).first())
    return _listing(request, fixed={"object_type": object_type, "object_id": object_id},
                    hidden=("object_type", "object_id"),
                    title=gettext("Audit trail of %(object)s") % {"object": label or f"{object_type} {object_id}"},
                    context={"object_type": object_type, "object_id": object_id})


@require_GET
def audit_user(request, user_id: int):
    """Every entry whose actor is one user (within what the reader may see)."""
    # The name shown comes from the visible entries only: the URL never reveals an account the reader cannot see.
    if user_id > MAX_ID:
        raise Http404
    label = (visible_entries(request.user).filter(actor_id=user_id).order_by("-sequence")
             .values_list("actor_label", flat=True).first())
    return _listing(request, fixed={"actor_id": user_id}, hidden=("actor",),
                    title=gettext("Actions of %(user)s") % {"user": label or f"#{user_id}"},
                    context={"actor_id": user_id})
