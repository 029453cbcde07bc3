"""The library behind ``univec index`` / ``univec search``, in a few lines.

The command line is the way to index a folder (``univec index DIR --collection NAME`` keeps a
collection in sync with it); this script shows the same building blocks used from Python: an
encoder, a multi-vector collection in the embedded default database (Qdrant Edge under
``./univec_data``), documents added with your own ids and metadata (re-adding replaces, never
duplicates), and hybrid search (dense candidates, exact MaxSim rerank).

Usage::

    python examples/index_and_search.py                    # examples/docs, two sample queries
    python examples/index_and_search.py "Where is the Eiffel Tower?"
    UNIVEC_MODEL=tests/fixtures/tiny-jev4 python examples/index_and_search.py   # offline
"""

from __future__ import annotations

import sys
from pathlib import Path

import univec
from univec_qdrant import QdrantCollection

DOCS = Path(__file__).parent / "docs"
QUERIES = ["Where is the Eiffel Tower?", "How do plants make energy?"]


def main(queries: list[str]) -> list[list[univec.collections.SearchHit]]:
    encoder = univec.Encoder.from_env()  # UNIVEC_BACKEND, UNIVEC_MODEL, JINA_API_KEY, ...
    files = sorted(DOCS.glob("*.*"))
    results = []
    with QdrantCollection("examples", encoder, progress=False) as collection:
        collection.add(
            [path.read_text(encoding="utf-8") for path in files],
            ids=[path.name for path in files],
            metadata=[{"file": path.name} for path in files],
        )
        print(f"{collection.count()} documents in collection 'examples'")
        for query in queries:
            hits = collection.search(query, k=3, mode="hybrid")
            results.append(hits)
            print(f"\n{query}")
            for hit in hits:
                print(f"  {hit.score:8.3f}  {hit.id}")
    return results


if __name__ == "__main__":
    main(sys.argv[1:] or QUERIES)
