"""Accent- and case-folding for search: "Hyponatrémie", "HYPONATREMIE" and "hyponatremie" read the same.

PostgreSQL folds in the database (`unaccent` in the text search configuration `trialdocs_french`, migration
0015). On SQLite the function `trialdocs_fold` is registered on every connection (deterministic, so SQLite may
use it in indexes and in constant folding) and `regulatory.tmf.search` compares folded text with folded words.
"""

import unicodedata

from django.db.backends.signals import connection_created

SQLITE_FUNCTION = "trialdocs_fold"


def fold(text: str | None) -> str | None:
    """Letters without their accents (é→e, ç→c, œ→oe, ß→ss), case folded; None stays None (SQL NULL)."""
    if text is None:
        return None
    decomposed = unicodedata.normalize("NFKD", str(text).casefold())
    plain = "".join(char for char in decomposed if not unicodedata.combining(char))
    return plain.replace("œ", "oe").replace("æ", "ae").replace("ø", "o").replace("ł", "l").replace("đ", "d")


def _register(sender, connection, **kwargs):
    if connection.vendor == "sqlite":
        connection.connection.create_function(SQLITE_FUNCTION, 1, fold, deterministic=True)


def connect() -> None:
    connection_created.connect(_register, dispatch_uid="trialdocs_sqlite_fold")
