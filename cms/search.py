"""Wagtail's database search backend, made safe for whatever a user types in a search box.

Every search of the admin (page explorer and search, page chooser, documents, images, users, snippets, reports)
and of its API (`/admin/api/main/pages/?search=`) goes through the configured backend, so the defence sits here,
once, rather than in each view:

- NUL and other control characters are blanks: PostgreSQL refuses a NUL in any string and SQLite's FTS5 query
  parser stops at one ("unterminated string"), both a 500;
- on SQLite, a double quote in a word is doubled: the backend (django-modelsearch) wraps each word and phrase in
  double quotes for FTS5 without escaping those inside, so a lone `"` was a syntax error;
- a query keeps its first `MAX_WORDS` words and `MAX_CHARACTERS` characters: the backend nests one expression per
  word, and some thousand words exhaust Python's recursion limit;
- an operator other than "and" or "or" (the API's `search_operator`) is a 400 with a message, not a ValueError.

Selected with `WAGTAILSEARCH_BACKENDS = {"default": {"BACKEND": "cms.search"}}`; the backend itself stays the one
django-modelsearch picks for the database (PostgreSQL full text, SQLite FTS5, or its plain fallback).
"""

from __future__ import annotations

import copy
import re
from functools import cache

from django.db import connection
from modelsearch.backends import database

MAX_WORDS = 32
MAX_CHARACTERS = 400
OPERATORS = ("and", "or")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def clean_text(text: str, *, fts5: bool = False) -> str:
    """`text` as a search backend can take it: no control character, bounded, quotes escaped for FTS5."""
    words = _CONTROL.sub(" ", str(text)).split()[:MAX_WORDS]
    cleaned = " ".join(words)[:MAX_CHARACTERS].strip()
    return cleaned.replace('"', '""') if fts5 else cleaned


def clean_query(query, *, fts5: bool = False):
    """A copy of `query` (a string or a modelsearch query object) with every text in it cleaned; "" when nothing
    is left to search for (the backend then answers no result)."""
    cleaned = _clean(query, fts5=fts5)
    return "" if cleaned is None else cleaned


def _clean(query, *, fts5: bool):
    """`query` cleaned, or None when no word is left in it (a word, phrase or operand that was only blanks)."""
    if isinstance(query, str):
        return clean_text(query, fts5=fts5) or None
    query = copy.copy(query)
    if isinstance(getattr(query, "query_string", None), str):
        query.query_string = clean_text(query.query_string, fts5=fts5)
        if not query.query_string:
            return None
    if getattr(query, "subquery", None) is not None:
        query.subquery = _clean(query.subquery, fts5=fts5)
        if query.subquery is None:
            return None
    if getattr(query, "subqueries", None) is not None:
        query.subqueries = [kept for kept in (_clean(sub, fts5=fts5) for sub in query.subqueries) if kept is not None]
        if not query.subqueries:
            return None
    return query


class SafeQueries:
    """Mixed into the database backend's class: every query is cleaned before it is compiled."""

    fts5 = False  # SQLite's FTS5 query syntax (set by `SearchBackend`)

    def _search(self, query_compiler_class, query, model_or_queryset, **kwargs):
        operator = kwargs.get("operator")
        if operator is not None:
            if str(operator).lower() not in OPERATORS:
                from wagtail.api.v2.utils import BadRequestError  # the API is the one caller passing a typed operator

                raise BadRequestError("search_operator must be 'and' or 'or'")
            kwargs["operator"] = str(operator).lower()
        return super()._search(query_compiler_class, clean_query(query, fts5=self.fts5), model_or_queryset,
                               **kwargs)


@cache
def _safe_class(backend_class: type, *, fts5: bool) -> type:
    return type(f"Safe{backend_class.__name__}", (SafeQueries, backend_class), {"fts5": fts5})


def SearchBackend(params):  # noqa: N802 (the name Wagtail looks up in a backend module)
    backend_class = type(database.SearchBackend(params))
    fts5 = connection.vendor == "sqlite" and bool(database.USE_SQLITE_FTS)
    return _safe_class(backend_class, fts5=fts5)(params)
