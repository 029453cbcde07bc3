"""Index a folder of documents into a multi-vector collection and search it.

The main job of univec, end to end: texts (``.txt``, ``.md``), images (``.png``, ``.jpg``, ...)
and PDF pages are encoded with jina-embeddings-v4 (single + multi vectors in one pass) and
stored in the embedded default database (Qdrant Edge under ``./univec_data``), then searched
with hybrid retrieval (dense prefetch, exact MaxSim rerank).

Usage::

    python examples/index_and_search.py                       # a built-in sample corpus
    python examples/index_and_search.py --docs ~/papers --query "attention heads"
    UNIVEC_BACKEND=api JINA_API_KEY=... python examples/index_and_search.py
    python examples/index_and_search.py --database milvus     # Milvus Lite (./univec.db)

Re-running upserts: nothing is duplicated.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import univec

TEXT_SUFFIXES = {".txt", ".md"}
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".webp", ".gif", ".bmp"}

SAMPLE_TEXTS = {
    "eiffel": "The Eiffel Tower is a wrought-iron lattice tower in Paris, France.",
    "photosynthesis": "Photosynthesis converts light energy into chemical energy in plants.",
    "maxsim": "Late interaction scores a query against a document token by token (MaxSim).",
    "python": "def fibonacci(n):\n    return n if n < 2 else fibonacci(n - 1) + fibonacci(n - 2)",
}
SAMPLE_QUERIES = ["Where is the Eiffel Tower?", "How do plants make energy?"]


def load_folder(folder: Path) -> tuple[list[Any], list[str], list[dict[str, Any]]]:
    """Texts, images and PDF pages under ``folder``, with ids and metadata."""
    items: list[Any] = []
    ids: list[str] = []
    metadata: list[dict[str, Any]] = []
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        relative = str(path.relative_to(folder))
        suffix = path.suffix.lower()
        if suffix in TEXT_SUFFIXES:
            items.append(path.read_text(encoding="utf-8", errors="replace"))
            ids.append(relative)
            metadata.append({"source": relative, "kind": "text"})
        elif suffix in IMAGE_SUFFIXES:
            items.append(univec.Image(path))
            ids.append(relative)
            metadata.append({"source": relative, "kind": "image"})
        elif suffix == ".pdf":
            for number, page in enumerate(univec.pdf_pages(path), start=1):
                items.append(page)
                ids.append(f"{relative}#page={number}")
                metadata.append({"source": relative, "kind": "pdf", "page": number})
    return items, ids, metadata


def open_collection(database: str, name: str, encoder: univec.Encoder, location: str | None):
    """The embedded default database: Qdrant Edge, or Milvus Lite."""
    if database == "qdrant":
        from univec_qdrant import QdrantCollection

        return QdrantCollection(name, encoder, path=location or "./univec_data")
    from univec_milvus import MilvusCollection

    return MilvusCollection(name, encoder, uri=location or "./univec.db")


def main(argv: list[str] | None = None) -> list[list[univec.collections.SearchHit]]:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--docs", type=Path, help="folder to index (default: a built-in sample)")
    parser.add_argument("--query", action="append", help="query text (repeatable)")
    parser.add_argument("--database", choices=["qdrant", "milvus"], default="qdrant")
    parser.add_argument(
        "--location", help="database path/uri (default ./univec_data or ./univec.db)"
    )
    parser.add_argument("--collection", default="documents")
    parser.add_argument("--mode", choices=["hybrid", "multi", "dense"], default="hybrid")
    parser.add_argument("-k", type=int, default=3)
    args = parser.parse_args(argv)

    encoder = univec.Encoder.from_env()  # UNIVEC_BACKEND, UNIVEC_MODEL, JINA_API_KEY, ...
    if args.docs:
        items, ids, metadata = load_folder(args.docs)
    else:
        ids = list(SAMPLE_TEXTS)
        items = list(SAMPLE_TEXTS.values())
        metadata = [{"source": "sample"} for _ in ids]
    queries = args.query or SAMPLE_QUERIES

    results = []
    with open_collection(args.database, args.collection, encoder, args.location) as collection:
        collection.add(items, ids=ids, metadata=metadata)
        print(f"{len(collection)} documents in {args.database} collection {args.collection!r}")
        for query in queries:
            hits = collection.search(query, k=args.k, mode=args.mode)
            results.append(hits)
            print(f"\n{query}")
            for hit in hits:
                preview = (hit.text or str(hit.metadata.get("source", "")))[:70].replace("\n", " ")
                print(f"  {hit.score:8.3f}  {hit.id}  {preview}")
    return results


if __name__ == "__main__":
    main()
