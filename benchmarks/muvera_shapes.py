"""First-stage recall of MUVERA shapes: how much of the exact top k their candidates hold.

A ``hybrid`` search with ``first_stage="muvera"`` takes the ``N`` documents whose MUVERA
encodings score best against the query's, then reranks them by exact MaxSim; it can only
return what those ``N`` hold. This script measures that ceiling for several encoding shapes
(``repetitions x 2**simhash_projections partitions x projection_dimension``) on the two
corpora of ``benchmarks/storage.py``, without a database: encodings are rounded to the
precision an engine stores them in (``--float16``: Qdrant; float32: Milvus), scored in
NumPy, and each query's candidates reranked by exact float32 MaxSim. Recall@k counts ties
with the k-th exact score as found, as ``storage.py`` does.

    python benchmarks/muvera_shapes.py                     # 2,000 documents, a quick look
    python benchmarks/muvera_shapes.py --docs 20000 --queries 40 \\
        --shapes 10x4x8,6x5x6,4x6x4,6x6x8,3x7x8     # the figures behind univec's shapes (~12 min)

Prints one table per corpus and writes a plot of recall against bytes per document.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
import storage  # the corpora of the storage benchmark

RESULTS = Path(__file__).parent / "results"
DEFAULT_SHAPES = "10x4x8,6x5x6,2x6x9,4x6x4,6x6x8,3x7x8"


def parse_shape(text: str) -> tuple[int, int, int]:
    """``"6x5x6"`` -> ``(repetitions, simhash_projections, projection_dimension)``."""
    parts = text.lower().split("x")
    if len(parts) != 3 or not all(part.isdigit() and int(part) > 0 for part in parts):
        raise argparse.ArgumentTypeError(f"shape {text!r} is not REPETITIONSxSIMHASHxDIMS")
    repetitions, simhash, dims = (int(part) for part in parts)
    return repetitions, simhash, dims


def first_stage_recall(
    exact: np.ndarray, approximate: np.ndarray, candidates: int, k: int
) -> float:
    """Mean share of each query's exact top ``k`` found by reranking its best candidates.

    Args:
        exact: ``(queries, docs)`` exact MaxSim scores.
        approximate: ``(queries, docs)`` first-stage scores.
        candidates: Documents the first stage hands to the exact rerank.
        k: Results per query.
    """
    found = []
    for row, scores in zip(exact, approximate, strict=True):
        kth = np.partition(row, -k)[-k]
        pool = np.argpartition(-scores, min(candidates, len(scores) - 1))[:candidates]
        top = pool[np.argsort(-row[pool], kind="stable")[:k]]
        found.append(float(np.mean(row[top] >= kth - 1e-5 * max(1.0, abs(kth)))))
    return float(np.mean(found))


def measure(
    corpus: Any, args: argparse.Namespace, shapes: list[tuple[int, int, int]]
) -> dict[str, Any]:
    """Exact and per-shape first-stage scores of ``args.queries`` queries over the corpus."""
    from tqdm.auto import tqdm

    from univec.collections.compression import MuveraEncoding

    encoders = [
        MuveraEncoding(
            dim=storage.DIM, repetitions=r, simhash_projections=s, projection_dimension=d
        )
        for r, s, d in shapes
    ]
    queries = storage.queries(corpus, args.queries, args.docs)
    flat = queries.reshape(-1, storage.DIM)
    encoded_queries = [np.stack([e.query(q) for q in queries]) for e in encoders]
    stored = np.float16 if args.float16 else np.float32
    exact = np.zeros((len(queries), args.docs), np.float32)
    approximate = [np.zeros_like(exact) for _ in encoders]
    started = time.perf_counter()
    with tqdm(total=args.docs, desc=f"{corpus.name}", unit="doc", leave=False) as bar:
        for start, block in storage.chunks(corpus, args.docs, 256):
            n, tokens, _ = block.shape
            sims = (flat @ block.reshape(-1, storage.DIM).T).reshape(
                len(queries), args.query_tokens, n, tokens
            )
            exact[:, start : start + n] = sims.max(axis=3).sum(axis=1)
            for index, encoder in enumerate(encoders):
                documents = encoder.documents(list(block)).astype(stored).astype(np.float32)
                approximate[index][:, start : start + n] = encoded_queries[index] @ documents.T
            bar.update(n)
    rows = []
    for (r, s, d), encoder, scores in zip(shapes, encoders, approximate, strict=True):
        recalls = {n: first_stage_recall(exact, scores, n, args.k) for n in args.candidates}
        width = 2 if args.float16 else 4
        rows.append(
            {
                "shape": f"{r}x{s}x{d}",
                "partitions": 2**s,
                "dims": encoder.output_dim,
                "bytes": encoder.output_dim * width,
                "recall": recalls,
            }
        )
    return {"corpus": corpus.name, "rows": rows, "seconds": time.perf_counter() - started}


def table(result: dict[str, Any], candidates: list[int]) -> str:
    head = "| shape (reps x partitions x dims) | dims | bytes/doc | " + " | ".join(
        f"recall@10 of {n}" for n in candidates
    )
    lines = [head + " |", "|---" * (3 + len(candidates)) + "|"]
    for row in result["rows"]:
        r, s, d = row["shape"].split("x")
        cells = " | ".join(f"{row['recall'][n]:.3f}" for n in candidates)
        lines.append(
            f"| {r} x {2 ** int(s)} x {d} | {row['dims']:,} | {row['bytes']:,} | {cells} |"
        )
    return "\n".join(lines)


def plot(results: list[dict[str, Any]], candidates: int, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(7, 4.5))
    for result, marker in zip(results, "os", strict=False):
        xs = [row["bytes"] / 1024 for row in result["rows"]]
        ys = [row["recall"][candidates] for row in result["rows"]]
        axes.scatter(xs, ys, marker=marker, label=result["corpus"])
        for row, x, y in zip(result["rows"], xs, ys, strict=True):
            axes.annotate(
                row["shape"], (x, y), fontsize=7, xytext=(3, 3), textcoords="offset points"
            )
    axes.set_xlabel("MUVERA bytes per document (KiB)")
    axes.set_ylabel(f"share of the exact top 10 in {candidates} candidates")
    axes.set_title("MUVERA first stage: recall against size")
    axes.grid(alpha=0.3)
    axes.legend()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.tight_layout()
    figure.savefig(path, dpi=120)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--docs", type=int, default=2000)
    parser.add_argument("--corpora", default="synthetic,lexical")
    parser.add_argument("--shapes", default=DEFAULT_SHAPES, help="comma-separated RxSxD")
    parser.add_argument("--candidates", default="256,512,1024")
    parser.add_argument("--queries", type=int, default=20)
    parser.add_argument("--tokens", type=int, default=300, help="tokens per document")
    parser.add_argument("--query-tokens", type=int, default=20)
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument(
        "--float16",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="round encodings to float16 as Qdrant stores them (--no-float16: Milvus)",
    )
    parser.add_argument(
        "--plot", default=str(RESULTS / "muvera_shapes.png"), help='"none": no plot'
    )
    args = parser.parse_args(argv)
    shapes = [parse_shape(text) for text in args.shapes.split(",")]
    args.candidates = [int(n) for n in args.candidates.split(",")]
    results = []
    for name in args.corpora.split(","):
        corpus = storage.make_corpus(name, args)
        result = measure(corpus, args, shapes)
        results.append(result)
        print(
            f"\n{name}, {args.docs:,} documents, {args.queries} queries ({result['seconds']:.0f} s)"
        )
        print(table(result, args.candidates), flush=True)
    if args.plot != "none":
        plot(results, args.candidates[len(args.candidates) // 2], Path(args.plot))
        print(f"\nplot: {args.plot}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
