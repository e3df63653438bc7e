"""Full-text search of TMF documents (the TMF's search box, the API of the browse page)."""

from django.db import connection
from django.db.models import Q, QuerySet

from regulatory.models.tmf import SearchVectorColumn


def search(documents: QuerySet, words: str) -> QuerySet:
    """Full-text search: French stemming and ranking on PostgreSQL, every word as a substring on SQLite; accents
    and case never matter ("hyponatremie" finds "Hyponatrémie": `regulatory.folding`).

    On PostgreSQL, words are read as a web search (`websearch_to_tsquery`: "quoted phrases", `or`, -excluded) and
    matched against the stored `search_vector` column (title weighted A, searchable text B; GIN index
    `tmf_search_vector_gin`, migration 0010), which the ranking reads too: nothing is computed per row.
    """
    words = words.strip()[:200]
    if not words:
        return documents
    if connection.vendor == "postgresql":
        from django.contrib.postgres.search import SearchQuery, SearchRank

        vector = SearchVectorColumn()
        query = SearchQuery(words, config="trialdocs_french", search_type="websearch")
        # Filter on the match itself (@@): ts_rank gives non-matching rows a tiny positive rank, not 0.
        return (documents.alias(search=vector).annotate(search_rank=SearchRank(vector, query)).filter(search=query)
                .order_by("-search_rank", "artifact__number", "-document_date"))
    from django.db.models import Func, TextField

    from regulatory.folding import SQLITE_FUNCTION, fold

    def folded(field):
        return Func(field, function=SQLITE_FUNCTION, output_field=TextField())

    condition = Q()
    for word in words.split():
        word = fold(word)
        condition &= (Q(folded_title__contains=word) | Q(folded_text__contains=word)
                      | Q(folded_artifact__contains=word))
    return documents.alias(folded_title=folded("title"), folded_text=folded("search_text"),
                           folded_artifact=folded("artifact__name")).filter(condition)
