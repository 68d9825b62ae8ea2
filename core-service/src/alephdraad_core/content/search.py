"""Full-text search over threads: how the stored `search_vector` is built and how `?q=` is read.

Configuration `alephdraad_text` (migration 0003): a copy of PostgreSQL's `simple` (lower-cased
words, no stemming, no stop words). PostgreSQL ships no Indonesian stemmer, and the English one
would mangle Indonesian words while stemming only half of a mixed forum; `simple` treats both
languages alike and predictably: a word matches itself in any letter case. Words match whole
(the websearch syntax has no prefix operator), and the GIN index idx_threads_search answers
every query. Accent folding (`unaccent`) is not used: the extension is missing from the
embedded PostgreSQL the tests run on, and Indonesian and English rarely carry accents; being
our own configuration, it can gain `unaccent` later with one ALTER TEXT SEARCH CONFIGURATION
and a re-index, without a code change.

The vector is weighted: title A, the author's summary B, plain text of the body C, so a title
match ranks above the same word in the body (ts_rank's default weights 1.0, 0.4, 0.2).
"""

from __future__ import annotations

from django.contrib.postgres.search import (
    CombinedSearchVector,
    SearchQuery,
    SearchRank,
    SearchVector,
)
from django.db.models import F, FloatField, Value
from django.db.models.functions import Cast

from alephdraad_core.content.document import derived_summary

SEARCH_CONFIG = "alephdraad_text"


def search_vector_of(*, title: str, summary: str, content_text: str) -> CombinedSearchVector:
    """The vector of these texts, as an expression to store in the same INSERT or UPDATE that
    writes them. Built from the new values, not from F(): in an UPDATE, a column reference on
    the right-hand side reads the row's old value.

    A summary derived from the text (the author gave none) is not indexed again at weight B:
    it would lift the start of every body above the rest of it, and a summary match would no
    longer mean the author's own words."""
    if summary == derived_summary(content_text):
        summary = ""
    return (
        SearchVector(Value(title), config=SEARCH_CONFIG, weight="A")
        + SearchVector(Value(summary), config=SEARCH_CONFIG, weight="B")
        + SearchVector(Value(content_text), config=SEARCH_CONFIG, weight="C")
    )


def search_query(text: str) -> SearchQuery:
    """`?q=` in web-search syntax: words are ANDed, "quoted phrases", `or`, `-excluded`."""
    return SearchQuery(text, search_type="websearch", config=SEARCH_CONFIG)


def search_rank(query: SearchQuery) -> Cast:
    """ts_rank as double precision: a float4 read into Python and sent back in a cursor would
    not compare equal to itself; a float8 round-trips exactly."""
    return Cast(SearchRank(F("search_vector"), query), output_field=FloatField())
