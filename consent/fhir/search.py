"""The parameters of a search, checked (`parse_query`) into a `Query`: paging (`_count`, `_offset`), `_format`, and
the values of FHIR token and date parameters. What each parameter of a resource type means is the type's
(`resources`)."""

from __future__ import annotations

import datetime
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from django.db.models import Q
from django.utils.translation import gettext as _

from .outcomes import Refusal

if TYPE_CHECKING:
    from .resources import Context

DEFAULT_COUNT, MAX_COUNT = 20, 100
MAX_OFFSET = 10_000_000
MAX_QUERY_LENGTH = 2000
FORMATS = {"json", "application/json", "application/fhir+json"}
PARIS = ZoneInfo("Europe/Paris")


@dataclass
class Query:
    """The request's parameters, checked: filters (AND of each occurrence), paging, and the canonical parameters
    repeated in the paging links."""

    filters: list[Q] = field(default_factory=list)
    count: int = DEFAULT_COUNT
    offset: int = 0
    canonical: list[tuple[str, str]] = field(default_factory=list)


def parse_query(ctx: Context, kind, request) -> Query:
    query = Query()
    if len(request.META.get("QUERY_STRING", "")) > MAX_QUERY_LENGTH:
        raise Refusal(400, "too-long", _("The query is too long (%(max)s characters at most).")
                      % {"max": MAX_QUERY_LENGTH})
    params = dict(request.GET.lists())
    for name in sorted(params):
        values = params[name]
        if name in ("_count", "_offset", "_format"):
            continue
        if name not in kind.params:
            raise Refusal(400, "not-supported", _("%(type)s does not take the parameter %(name)r; it takes %(known)s.")
                          % {"type": kind.name, "name": name[:40], "known": ", ".join(kind.params + ("_count",
                                                                                                      "_offset"))})
        for value in values:
            if not value.strip():
                raise Refusal(400, "invalid", _("%(name)s has no value.") % {"name": name})
            query.filters.append(kind.filter(ctx, name, value))
            query.canonical.append((name, value))
    query.count = _int_param("_count", params.get("_count", []), default=DEFAULT_COUNT, maximum=MAX_COUNT)
    query.offset = _int_param("_offset", params.get("_offset", []), default=0, maximum=MAX_OFFSET)
    return query


def _check_format(request) -> None:
    for value in request.GET.getlist("_format"):
        if value.strip().lower() not in FORMATS:
            raise Refusal(406, "not-supported", _("Only JSON is served (_format=json)."))


def _int_param(name: str, values: list[str], *, default: int, maximum: int) -> int:
    if not values:
        return default
    if len(values) > 1:
        raise Refusal(400, "invalid", _("%(name)s is given more than once.") % {"name": name})
    text = values[0].strip()
    if not re.fullmatch(r"\d{1,10}", text):
        raise Refusal(400, "invalid", _("%(name)s must be a whole number from 0 to %(max)s, not %(value)r.")
                      % {"name": name, "max": maximum, "value": text[:40]})
    number = int(text)
    if number > maximum:
        raise Refusal(400, "too-costly", _("%(name)s is at most %(max)s (asked: %(value)s).")
                      % {"name": name, "max": maximum, "value": text})
    return number


def _tokens(value: str) -> list[tuple[str | None, str]]:
    """A token search value, comma-separated alternatives of `[system|]code`."""
    found = []
    for part in value.split(","):
        system, bar, code = part.partition("|")
        found.append((system, code) if bar else (None, part))
    if any(not code.strip() for _system, code in found):
        raise Refusal(400, "invalid", _("An empty value in %(value)r.") % {"value": value[:40]})
    return found


def _date_q(field_name: str, value: str) -> Q:
    prefix, start, end = _date_range(value)
    if prefix == "eq":
        return Q(**{f"{field_name}__gte": start, f"{field_name}__lt": end})
    if prefix == "ne":
        return ~Q(**{f"{field_name}__gte": start, f"{field_name}__lt": end})
    if prefix in ("lt", "eb"):
        return Q(**{f"{field_name}__lt": start})
    if prefix == "le":
        return Q(**{f"{field_name}__lt": end})
    if prefix in ("gt", "sa"):
        return Q(**{f"{field_name}__gte": end})
    return Q(**{f"{field_name}__gte": start})  # ge


DATE = re.compile(r"^(eq|ne|lt|le|gt|ge|sa|eb)?(\d{4})(?:-(\d{2})(?:-(\d{2})"
                  r"(?:T(\d{2}):(\d{2})(?::(\d{2})(?:\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})?)?)?)?$")


def _date_range(value: str) -> tuple[str, datetime.datetime, datetime.datetime]:
    """(prefix, start, end) of a FHIR date search value: the instant range its precision covers (a date without a
    time in Europe/Paris, the trial's time zone)."""
    match = DATE.match(value)
    if not match:
        raise Refusal(400, "invalid", _("date: %(value)r is not a FHIR date (e.g. ge2026-02-01, 2026-02, "
                                        "lt2026-02-01T12:00:00Z).") % {"value": value[:40]})
    prefix, year, month, day, hour, minute, second, zone = match.groups()
    if hour is not None and zone is None:
        raise Refusal(400, "invalid", _("date: a time needs its time zone (Z or ±hh:mm)."))
    try:
        if hour is not None:
            tz = datetime.UTC if zone == "Z" else datetime.datetime.strptime(zone.replace(":", ""), "%z").tzinfo
            start = datetime.datetime(int(year), int(month), int(day), int(hour), int(minute), int(second or 0),
                                      tzinfo=tz)
            end = start + (datetime.timedelta(seconds=1) if second else datetime.timedelta(minutes=1))
        elif day is not None:
            start = datetime.datetime(int(year), int(month), int(day), tzinfo=PARIS)
            end = start + datetime.timedelta(days=1)
        elif month is not None:
            start = datetime.datetime(int(year), int(month), 1, tzinfo=PARIS)
            end = datetime.datetime(int(year) + int(month) // 12, int(month) % 12 + 1, 1, tzinfo=PARIS)
        else:
            start = datetime.datetime(int(year), 1, 1, tzinfo=PARIS)
            end = datetime.datetime(int(year) + 1, 1, 1, tzinfo=PARIS)
    except (ValueError, OverflowError) as error:
        raise Refusal(400, "invalid", _("date: %(value)r is not a real date.") % {"value": value[:40]}) from error
    return prefix or "eq", start, end
