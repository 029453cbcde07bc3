"""Storage benchmark: bytes per document vs recall for the collections' storage options.

For each configuration (token pooling, token precision, first stage) on Qdrant Edge and
Milvus Lite it measures storage per document (bytes on disk, and bytes of vectors), ingest
docs/s, peak RSS, dense / hybrid / multi p50 and p95, and recall@10 and nDCG@10 against exact
float32 MaxSim over the uncompressed vectors, on two corpora:

* ``synthetic``: clustered multi-vectors (as ``benchmarks/search.py``): each document mixes 4
  of 64 topic centroids; queries are drawn from a document's topic mix.
* ``lexical``: documents made of real text, sentences drawn from the documentation topics that
  ship with CPython (``pydoc_data.topics``); each token's vector is its word's random vector
  plus its neighbours' (a context window), so frequent words recur across documents as in real
  data. Queries are spans of a document's text.

Everything is streamed: documents are generated in chunks from per-document seeds, written,
and forgotten (no whole-corpus arrays), so 100,000 documents fit in bounded memory. The exact
top 10 of every query is computed once per corpus in this process, in the same streaming
pass; every configuration then runs in a child process of its own (its peak RSS is its own).

    python benchmarks/storage.py                              # 2,000 docs, a quick look
    python benchmarks/storage.py --qdrant-docs 100000 --milvus-docs 20000 \\
        --baseline-docs 20000 --configs float32,int8-muvera \\
        --candidates 512 --queries 20       # the full-size run in the README (~80 min, ~20 GB)

A configuration is ``[poolN-]precision[-muvera]``: ``float32`` (today's storage, the
baseline), ``pool2-float16``, ``int8``, ``pool3-binary-muvera``, ...
Targets (issue 14), checked at 100,000 (Qdrant Edge) / 20,000 (Milvus Lite) documents:
vector storage <= 0.3x float32 at recall@10 >= 0.95 on both corpora, hybrid p50 <= 30 ms
(Qdrant Edge) / 250 ms (Milvus Lite), ingest >= 0.8x the float32 ingest rate.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import zlib
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

RESULTS = Path(__file__).parent / "results"
DIM = 128
SEED = 14
MODES = ("dense", "hybrid", "multi")
#: Token vectors' bytes per token in float32: the denominator of every storage ratio.
FLOAT32_TOKEN_BYTES = 4 * DIM
#: Sizes at which the issue's targets apply (smaller runs print them for information).
TARGET_DOCS = {"qdrant-edge": 100_000, "milvus-lite": 20_000}
HYBRID_P50_MS = {"qdrant-edge": 30.0, "milvus-lite": 250.0}


# --------------------------------------------------------------------------- corpora
def _unit(x: np.ndarray) -> np.ndarray:
    return (x / np.linalg.norm(x, axis=-1, keepdims=True)).astype(np.float32)


class SyntheticCorpus:
    """Clustered multi-vectors, generated per document from its own seed."""

    name = "synthetic"

    def __init__(self, tokens: int, query_tokens: int) -> None:
        self.tokens, self.query_tokens = tokens, query_tokens
        self.centroids = _unit(np.random.default_rng(SEED).normal(size=(64, DIM)))

    def _mix(self, doc: int) -> tuple[np.random.Generator, np.ndarray, np.ndarray]:
        rng = np.random.default_rng([SEED, doc])
        return rng, rng.integers(0, len(self.centroids), 4), rng.dirichlet(np.ones(4) * 0.7)

    def _sample(self, rng: np.random.Generator, topics: np.ndarray, weights: np.ndarray, n: int):
        picks = topics[rng.choice(4, size=n, p=weights)]
        noise = rng.normal(scale=0.12, size=(n, DIM)).astype(np.float32)
        return _unit(self.centroids[picks] + noise)

    def document(self, doc: int) -> np.ndarray:
        rng, topics, weights = self._mix(doc)
        return self._sample(rng, topics, weights, self.tokens)

    def query(self, index: int, docs: int) -> np.ndarray:
        about = int(np.random.default_rng([SEED, 1 << 40, index]).integers(docs))
        _, topics, weights = self._mix(about)
        rng = np.random.default_rng([SEED, 1 << 41, index])
        return self._sample(rng, topics, weights, self.query_tokens)


class LexicalCorpus:
    """Real sentences (CPython's documentation topics); token vectors from word + neighbours."""

    name = "lexical"
    context = 0.35  # weight of each neighbour's word vector

    def __init__(self, tokens: int, query_tokens: int) -> None:
        from pydoc_data.topics import topics

        self.tokens, self.query_tokens = tokens, query_tokens
        text = "\n".join(topics[key] for key in sorted(topics))
        sentences = re.split(r"(?<=[.!?:])\s+|\n\s*\n", text)
        words = [re.findall(r"\w+|[^\w\s]", s.lower()) for s in sentences]
        self.sentences = [w for w in words if len(w) >= 4]
        vocabulary = sorted({w for s in self.sentences for w in s})
        self.index = {w: i for i, w in enumerate(vocabulary)}
        self.vectors = np.stack([_word_vector(w) for w in vocabulary])

    def _words(self, doc: int, count: int) -> list[str]:
        rng = np.random.default_rng([SEED, 2, doc])
        words: list[str] = []
        while len(words) < count:
            words.extend(self.sentences[int(rng.integers(len(self.sentences)))])
        return words[:count]

    def _embed(self, words: list[str]) -> np.ndarray:
        ids = np.array([self.index[w] for w in words])
        base = self.vectors[ids]
        mixed = base.copy()
        mixed[1:] += self.context * base[:-1]
        mixed[:-1] += self.context * base[1:]
        return _unit(mixed)

    def document(self, doc: int) -> np.ndarray:
        return self._embed(self._words(doc, self.tokens))

    def query(self, index: int, docs: int) -> np.ndarray:
        rng = np.random.default_rng([SEED, 3, index])
        words = self._words(int(rng.integers(docs)), self.tokens)
        start = int(rng.integers(0, max(1, len(words) - self.query_tokens)))
        return self._embed(words[start : start + self.query_tokens])


def _word_vector(word: str) -> np.ndarray:
    rng = np.random.default_rng([SEED, zlib.crc32(word.encode())])
    return _unit(rng.normal(size=DIM))


CORPORA = {"synthetic": SyntheticCorpus, "lexical": LexicalCorpus}


def make_corpus(name: str, args: argparse.Namespace) -> Any:
    return CORPORA[name](args.tokens, args.query_tokens)


def chunks(corpus: Any, docs: int, size: int) -> Iterator[tuple[int, np.ndarray]]:
    """``(first id, (n, tokens, dim) token vectors)`` of consecutive documents."""
    for start in range(0, docs, size):
        stop = min(start + size, docs)
        yield start, np.stack([corpus.document(i) for i in range(start, stop)])


def queries(corpus: Any, count: int, docs: int) -> np.ndarray:
    return np.stack([corpus.query(i, docs) for i in range(count)])


# --------------------------------------------------------------------------- exact truth
def exact_top(corpus: Any, docs: int, query_vectors: np.ndarray, k: int, chunk: int) -> dict:
    """Exact float32 MaxSim top ``k`` (ids and scores) of every query, in one streaming pass."""
    from tqdm.auto import tqdm

    count, length, _ = query_vectors.shape
    flat = query_vectors.reshape(-1, DIM)
    best_ids = np.full((count, 0), -1, np.int64)
    best_scores = np.full((count, 0), -np.inf, np.float32)
    with tqdm(total=docs, desc=f"exact MaxSim ({corpus.name})", unit="doc", leave=False) as bar:
        for start, block in chunks(corpus, docs, chunk):
            n, tokens, _ = block.shape
            sims = (flat @ block.reshape(-1, DIM).T).reshape(count, length, n, tokens)
            scores = sims.max(axis=3).sum(axis=1)  # (queries, n)
            ids = np.broadcast_to(np.arange(start, start + n), scores.shape)
            all_ids = np.concatenate([best_ids, ids], axis=1)
            all_scores = np.concatenate([best_scores, scores], axis=1)
            keep = np.argsort(-all_scores, axis=1, kind="stable")[:, :k]
            best_ids = np.take_along_axis(all_ids, keep, axis=1)
            best_scores = np.take_along_axis(all_scores, keep, axis=1)
            bar.update(n)
    return {"ids": best_ids.tolist(), "scores": best_scores.tolist()}


def recall_ndcg(
    found: list[int], truth: list[int], exact: dict[int, float], kth: float, k: int
) -> tuple[float, float]:
    """Recall@k and nDCG@k of ``found`` against the exact top k.

    Ties count: a found document whose exact score (``exact``) equals the k-th best exact
    score ``kth`` is as right as the one the exact ranking happened to keep (real text has
    exact duplicates). nDCG's gains are ``k - rank`` for the exact top k (ties get the gain of
    the k-th), 0 elsewhere.
    """
    gains = {doc: k - rank for rank, doc in enumerate(truth[:k])}
    tolerance = 1e-5 * max(1.0, abs(kth))
    for doc in found[:k]:
        if doc not in gains and exact[doc] >= kth - tolerance:
            gains[doc] = 1
    dcg = sum(gains.get(doc, 0) / math.log2(rank + 2) for rank, doc in enumerate(found[:k]))
    ideal = sum((k - rank) / math.log2(rank + 2) for rank in range(k))
    return sum(1 for doc in found[:k] if doc in gains) / k, dcg / ideal


# --------------------------------------------------------------------------- configurations
@dataclass(frozen=True)
class Config:
    """One storage configuration: ``[poolN-]precision[-muvera]``."""

    label: str
    pool_factor: int = 1
    token_precision: str = "float32"
    first_stage: str = "dense"

    @classmethod
    def parse(cls, label: str) -> Config:
        pool, precision, first = 1, "float32", "dense"
        for part in label.split("-"):
            if re.fullmatch(r"pool\d+", part):
                pool = int(part[4:])
            elif part in ("float32", "float16", "int8", "binary"):
                precision = part
            elif part == "muvera":
                first = part
            else:
                raise ValueError(f"unknown configuration part {part!r} in {label!r}")
        return cls(label, pool, precision, first)

    def storage(self) -> Any:
        from univec.collections.compression import StorageOptions

        return StorageOptions(self.pool_factor, self.token_precision, self.first_stage)  # type: ignore[arg-type]


def vector_bytes_per_token(engine: str, precision: str) -> tuple[int, int]:
    """Bytes of one stored token vector: ``(searched, float copy kept for rescoring)``.

    Qdrant Edge: ``float16`` is its ``Float16`` datatype; ``int8`` / ``binary`` are its scalar
    (one byte a value + a per-vector correction) / binary quantisation in RAM, the float32
    originals memory-mapped on disk. Milvus Lite (portable layout): ``float32`` stores the
    float32 vectors and an int8 sketch (128 codes + scale + error norm) that bounds MaxSim;
    ``int8`` is the same bytes, the sketch being what is searched; ``float16`` the float16
    vectors alone; ``binary`` sign bits + float32 vectors.
    """
    if engine == "qdrant-edge":
        return {"float32": (512, 0), "float16": (256, 0), "int8": (132, 512), "binary": (16, 512)}[
            precision
        ]
    return {"float32": (648, 0), "float16": (256, 0), "int8": (136, 512), "binary": (16, 512)}[
        precision
    ]


@dataclass
class Result:
    engine: str
    corpus: str
    config: str
    docs: int
    ingest_docs_per_s: float = 0.0
    peak_rss_mib: float = 0.0
    disk_bytes_per_doc: float = 0.0
    vector_bytes_per_doc: float = 0.0  # the token vectors searched (+ MUVERA encodings)
    vector_ratio: float = 0.0  # vector bytes / float32 token bytes of the unpooled documents
    float_copy_bytes_per_doc: float = 0.0  # float32 originals kept on disk for rescoring
    tokens_per_doc: float = 0.0
    latency_ms: dict[str, list[float]] = field(default_factory=dict)  # mode -> [p50, p95]
    recall: dict[str, float] = field(default_factory=dict)
    ndcg: dict[str, float] = field(default_factory=dict)


# --------------------------------------------------------------------------- one configuration
def open_engine(engine: str, workdir: Path, config: Config) -> Any:
    from univec.collections import CollectionSchema

    schema = CollectionSchema(dense_dim=DIM, multi_dim=DIM, storage=config.storage())
    if engine == "qdrant-edge":
        from univec_qdrant._edge import EdgeEngine

        store: Any = EdgeEngine(workdir / "qdrant", "bench")
    else:
        from univec_milvus._engine import MilvusEngine

        store = MilvusEngine("bench", uri=str(workdir / "milvus.db"))
    store.ensure_collection(schema)
    return store


def disk_bytes(engine: str, workdir: Path) -> int:
    root = workdir / ("qdrant" if engine == "qdrant-edge" else "milvus.db")
    total = 0
    for path in root.rglob("*"):
        if path.is_file():
            status = path.stat()
            total += status.st_blocks * 512 if hasattr(status, "st_blocks") else status.st_size
    return total


def run_config(spec: dict[str, Any]) -> Result:
    """Ingest one corpus into one engine with one configuration, then search it (child)."""
    from tqdm.auto import tqdm

    from univec.collections import (
        PAYLOAD_DOCUMENT_ID,
        PAYLOAD_METADATA,
        PAYLOAD_PART,
        PAYLOAD_PART_COUNT,
        PointRecord,
        point_id,
    )
    from univec.collections.compression import pool_tokens

    args = argparse.Namespace(**spec["args"])
    engine_name, docs, config = spec["engine"], spec["docs"], Config.parse(spec["config"])
    corpus = make_corpus(spec["corpus"], args)
    truth = json.loads(Path(spec["truth"]).read_text())
    result = Result(engine_name, corpus.name, config.label, docs)
    workdir = Path(spec["workdir"])
    store = open_engine(engine_name, workdir, config)
    muvera = store.muvera_encoding(DIM) if config.first_stage == "muvera" else None
    stored_tokens = 0
    started = time.perf_counter()
    with tqdm(total=docs, desc=f"{engine_name} {corpus.name} {config.label}", unit="doc") as bar:
        for start, block in chunks(corpus, docs, args.batch):
            multis = [pool_tokens(tokens, config.pool_factor) for tokens in block]
            encodings = muvera.documents(multis) if muvera is not None else [None] * len(multis)
            records = []
            for offset, (multi, encoding) in enumerate(zip(multis, encodings, strict=True)):
                doc = start + offset
                stored_tokens += len(multi)
                records.append(
                    PointRecord(
                        point_id=point_id(doc),
                        document_id=doc,
                        part=0,
                        part_count=1,
                        dense=_unit(block[offset].mean(axis=0)),
                        multi=multi,
                        payload={
                            PAYLOAD_DOCUMENT_ID: doc,
                            PAYLOAD_PART: 0,
                            PAYLOAD_PART_COUNT: 1,
                            PAYLOAD_METADATA: {"group": doc % 10},
                        },
                        muvera=encoding,
                    )
                )
            store.upsert(records)
            bar.update(len(records))
        flush = getattr(store, "flush", None)
        if callable(flush):
            flush()
    result.ingest_docs_per_s = docs / (time.perf_counter() - started)
    result.tokens_per_doc = stored_tokens / docs
    searched, copy = vector_bytes_per_token(engine_name, config.token_precision)
    # MUVERA encodings: float16 on Qdrant, float32 on Milvus.
    muvera_bytes = (
        0 if muvera is None else muvera.output_dim * (2 if engine_name == "qdrant-edge" else 4)
    )
    result.vector_bytes_per_doc = result.tokens_per_doc * searched + muvera_bytes
    result.float_copy_bytes_per_doc = result.tokens_per_doc * copy
    result.vector_ratio = result.vector_bytes_per_doc / (args.tokens * FLOAT32_TOKEN_BYTES)

    query_vectors = queries(corpus, args.queries, docs)
    query_dense = _unit(query_vectors.mean(axis=1))
    first_stage = [
        muvera.query(q) if muvera is not None else d
        for q, d in zip(query_vectors, query_dense, strict=True)
    ]
    for mode in MODES:
        count = args.multi_queries if mode == "multi" else args.queries
        times: list[float] = []
        scores: list[tuple[float, float]] = []
        for index in [-1, *range(count)] if count else []:  # -1: a warm-up, not counted
            query = max(index, 0)
            begin = time.perf_counter()
            hits = store.search(
                mode=mode,
                dense=query_dense[query] if mode == "dense" else first_stage[query],
                multi=query_vectors[query],
                limit=args.k,
                candidates=args.candidates,
                filter=None,
            )
            elapsed = (time.perf_counter() - begin) * 1000
            if index < 0:
                continue
            times.append(elapsed)
            found = [int(h.payload[PAYLOAD_DOCUMENT_ID]) for h in hits]
            exact = {
                doc: float((query_vectors[index] @ corpus.document(doc).T).max(axis=1).sum())
                for doc in found
            }
            kth = truth["scores"][index][args.k - 1]
            scores.append(recall_ndcg(found, truth["ids"][index], exact, kth, args.k))
        if times:
            result.latency_ms[mode] = [
                float(np.percentile(times, 50)),
                float(np.percentile(times, 95)),
            ]
            result.recall[mode] = float(np.mean([r for r, _ in scores]))
            result.ndcg[mode] = float(np.mean([n for _, n in scores]))
    store.close()
    if engine_name == "milvus-lite":
        from milvus_lite.server_manager import server_manager_instance  # flushes to disk

        server_manager_instance.release_server(str(workdir / "milvus.db"))
    result.disk_bytes_per_doc = disk_bytes(engine_name, workdir) / docs
    result.peak_rss_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return result


# --------------------------------------------------------------------------- report
def targets(results: list[Result], args: argparse.Namespace) -> bool:
    """Print PASS/FAIL of the issue's targets; False if one fails at its target size."""
    ok = True
    print()
    for engine in sorted({r.engine for r in results}):
        mine = [r for r in results if r.engine == engine]
        docs = mine[0].docs
        at_size = docs >= TARGET_DOCS[engine]
        if not at_size:
            print(
                f"({engine}: {docs:,} docs; the targets are set for {TARGET_DOCS[engine]:,}: "
                "shown for information, not the exit status)"
            )
        by_config: dict[str, list[Result]] = {}
        for r in mine:
            by_config.setdefault(r.config, []).append(r)
        baseline = {r.corpus: r for r in by_config.get("float32", [])}
        for config, rows in by_config.items():
            checks: list[tuple[str, bool]] = []
            for r in rows:
                hybrid = r.recall.get("hybrid", 0.0)
                checks.append(
                    (
                        f"{r.corpus}: searched vector storage {r.vector_ratio:.3f}x float32 "
                        f"<= 0.3x at hybrid recall@10 {hybrid:.3f} >= 0.95"
                        + (
                            f" (+ float32 copies on disk: {r.float_copy_bytes_per_doc:,.0f} B/doc)"
                            if r.float_copy_bytes_per_doc
                            else ""
                        ),
                        r.vector_ratio <= 0.3 and hybrid >= 0.95,
                    )
                )
                p50 = r.latency_ms.get("hybrid", [math.inf])[0]
                limit = HYBRID_P50_MS[engine]
                checks.append(
                    (f"{r.corpus}: hybrid p50 {p50:.1f} ms <= {limit:g} ms", p50 <= limit)
                )
                base = baseline.get(r.corpus)
                if base is not None and config != "float32":
                    ratio = r.ingest_docs_per_s / base.ingest_docs_per_s
                    checks.append(
                        (
                            f"{r.corpus}: ingest {r.ingest_docs_per_s:,.0f} docs/s = {ratio:.2f}x "
                            f"float32 ({base.ingest_docs_per_s:,.0f} docs/s at {base.docs:,}) "
                            ">= 0.8x",
                            ratio >= 0.8,
                        )
                    )
            passed_all = all(passed for _, passed in checks)
            if config == args.recommended:
                ok &= passed_all or not at_size
            for text, passed in checks:
                print(f"{'PASS' if passed else 'FAIL'}  {engine} {config}: {text}")
    return ok


def table(results: list[Result]) -> str:
    header = (
        "| engine | corpus | config | docs | tokens/doc | searched vector B/doc | x float32 "
        "| float copy B/doc | disk B/doc "
        "| ingest docs/s | peak RSS MiB | dense p50/p95 ms | hybrid p50/p95 ms "
        "| multi p50/p95 ms | hybrid recall@10 | hybrid nDCG@10 | multi recall@10 |"
    )
    lines = [header, "|" + "|".join("---" for _ in range(header.count("|") - 1)) + "|"]
    for r in results:

        def lat(mode: str, r: Result = r) -> str:
            values = r.latency_ms.get(mode)
            return f"{values[0]:.1f} / {values[1]:.1f}" if values else "-"

        multi = f"{r.recall['multi']:.3f}" if "multi" in r.recall else "-"
        lines.append(
            f"| {r.engine} | {r.corpus} | {r.config} | {r.docs:,} | {r.tokens_per_doc:.0f} "
            f"| {r.vector_bytes_per_doc:,.0f} | {r.vector_ratio:.3f} "
            f"| {r.float_copy_bytes_per_doc:,.0f} | {r.disk_bytes_per_doc:,.0f} "
            f"| {r.ingest_docs_per_s:,.0f} | {r.peak_rss_mib:,.0f} | {lat('dense')} "
            f"| {lat('hybrid')} | {lat('multi')} | {r.recall.get('hybrid', 0):.3f} "
            f"| {r.ndcg.get('hybrid', 0):.3f} | {multi} |"
        )
    return "\n".join(lines)


def plot(results: list[Result], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = sorted({(r.engine, r.corpus) for r in results})
    fig, axes = plt.subplots(1, len(panels), figsize=(5 * len(panels), 4), squeeze=False)
    for axis, (engine, corpus) in zip(axes[0], panels, strict=True):
        rows = [r for r in results if (r.engine, r.corpus) == (engine, corpus)]
        for r in rows:
            x, y = r.vector_bytes_per_doc / 1024, r.recall.get("hybrid", 0.0)
            axis.scatter(x, y)
            label = f"{r.config} ({r.docs:,} docs)"
            axis.annotate(label, (x, y), fontsize=8, xytext=(3, 3), textcoords="offset points")
        axis.axhline(0.95, color="k", linestyle="--", linewidth=1)
        budget = 0.3 * FLOAT32_TOKEN_BYTES * _tokens(rows) / 1024  # the 0.3x target
        axis.axvline(budget, color="tab:red", linestyle=":", linewidth=1)
        axis.set_xscale("log")
        axis.set_xlabel("searched vector bytes per document (KiB, log)")
        axis.set_ylabel("hybrid recall@10 vs exact float32 MaxSim")
        sizes = " / ".join(f"{n:,}" for n in sorted({r.docs for r in rows}))
        axis.set_title(f"{engine}, {corpus}, {sizes} docs", fontsize=10)
        axis.set_ylim(min(0.5, min(r.recall.get("hybrid", 0.0) for r in rows) - 0.05), 1.02)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)


def _tokens(rows: list[Result]) -> float:
    """Unpooled tokens per document of a panel (its float32 rows store them all)."""
    return max(r.tokens_per_doc * Config.parse(r.config).pool_factor for r in rows)


# --------------------------------------------------------------------------- main
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--engines", default="qdrant-edge,milvus-lite")
    parser.add_argument("--corpora", default="synthetic,lexical")
    parser.add_argument("--qdrant-docs", type=int, default=2000)
    parser.add_argument("--milvus-docs", type=int, default=2000)
    parser.add_argument(
        "--baseline-docs",
        type=int,
        default=None,
        help="documents of the float32 baseline run (default: as many as the others; at "
        "100,000 its 15 GB of float32 vectors may not fit in memory)",
    )
    parser.add_argument(
        "--configs",
        default="float32,float16,int8,binary,pool2-float16,pool2-int8,int8-muvera",
        help="comma-separated configurations, [poolN-]precision[-muvera]",
    )
    parser.add_argument("--recommended", default="int8-muvera")
    parser.add_argument("--tokens", type=int, default=300, help="tokens per document")
    parser.add_argument("--queries", type=int, default=30)
    parser.add_argument("--multi-queries", type=int, default=3, help="multi is a full scan")
    parser.add_argument("--query-tokens", type=int, default=20)
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--candidates", type=int, default=256, help="hybrid candidates")
    parser.add_argument("--batch", type=int, default=64, help="documents per upsert")
    parser.add_argument("--workdir", default=None, help="where collections are written")
    parser.add_argument("--plot", default=str(RESULTS / "storage.png"), help='"none": no plot')
    parser.add_argument("--table", default=str(RESULTS / "storage.md"), help='"none": no table')
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        spec = json.loads(Path(args.child).read_text())
        print("RESULT " + json.dumps(asdict(run_config(spec))), flush=True)
        return 0

    configs = [c for c in args.configs.split(",") if c]
    for label in configs:
        Config.parse(label)
    sizes = {"qdrant-edge": args.qdrant_docs, "milvus-lite": args.milvus_docs}
    engines = [e for e in args.engines.split(",") if e]
    plain = {k: v for k, v in vars(args).items() if k != "child"}
    results: list[Result] = []
    with tempfile.TemporaryDirectory(prefix="univec-storage-", dir=args.workdir) as tmp:
        for corpus_name in [c for c in args.corpora.split(",") if c]:
            corpus = make_corpus(corpus_name, args)
            for engine in engines:
                docs = sizes[engine]
                query_vectors = queries(corpus, args.queries, docs)
                print(f"{engine}, {corpus_name}: exact top {args.k} of {docs:,} docs", flush=True)
                truth_file = Path(tmp) / f"truth-{corpus_name}-{docs}.json"
                if not truth_file.exists():
                    truth = exact_top(corpus, docs, query_vectors, args.k, chunk=64)
                    truth_file.write_text(json.dumps(truth))
                for label in configs:
                    size = docs
                    if label == "float32" and args.baseline_docs:
                        size = min(docs, args.baseline_docs)
                        other = Path(tmp) / f"truth-{corpus_name}-{size}.json"
                        if not other.exists():
                            truth = exact_top(
                                corpus, size, queries(corpus, args.queries, size), args.k, 64
                            )
                            other.write_text(json.dumps(truth))
                    workdir = Path(tmp) / f"{engine}-{corpus_name}-{label}"
                    workdir.mkdir()
                    spec = {
                        "engine": engine,
                        "corpus": corpus_name,
                        "config": label,
                        "docs": size,
                        "truth": str(Path(tmp) / f"truth-{corpus_name}-{size}.json"),
                        "workdir": str(workdir),
                        "args": plain,
                    }
                    spec_file = workdir / "spec.json"
                    spec_file.write_text(json.dumps(spec))
                    child = subprocess.run(
                        [sys.executable, __file__, "--child", str(spec_file)],
                        stdout=subprocess.PIPE,
                        text=True,
                        env={**os.environ},
                    )
                    line = [x for x in child.stdout.splitlines() if x.startswith("RESULT ")]
                    if child.returncode != 0 or not line:
                        print(f"FAIL  {engine} {corpus_name} {label}: the run failed", flush=True)
                        results.append(Result(engine, corpus_name, label, size))
                        shutil.rmtree(workdir, ignore_errors=True)
                        continue
                    result = Result(**json.loads(line[-1][len("RESULT ") :]))
                    results.append(result)
                    print(
                        f"  {label:<22} {result.vector_bytes_per_doc:>9,.0f} B/doc "
                        f"({result.vector_ratio:.3f}x)  hybrid recall {result.recall.get('hybrid', 0):.3f}"
                        f"  p50 {result.latency_ms.get('hybrid', [0])[0]:.1f} ms  "
                        f"ingest {result.ingest_docs_per_s:,.0f}/s",
                        flush=True,
                    )
                    shutil.rmtree(workdir, ignore_errors=True)  # free the disk for the next one
    text = table(results)
    print()
    print(text)
    ok = targets(results, args)
    if args.table and args.table.lower() != "none":
        Path(args.table).parent.mkdir(parents=True, exist_ok=True)
        Path(args.table).write_text(text + "\n")
        Path(args.table).with_suffix(".json").write_text(
            json.dumps([asdict(r) for r in results], indent=1)
        )
        print(f"\ntable: {args.table}")
    if args.plot and args.plot.lower() != "none":
        plot(results, Path(args.plot))
        print(f"plot: {args.plot}")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
