"""What the framework tests share: sample queries and each task family's (query, document) tasks."""

from __future__ import annotations

QUERIES = ["Where is Paris?", "def add(a, b)"]
#: (family, task of queries, task of documents), written out rather than derived from univec.
FAMILIES = [
    ("retrieval", "retrieval.query", "retrieval.passage"),
    ("code", "code.query", "code.passage"),
    ("text-matching", "text-matching", "text-matching"),
]
