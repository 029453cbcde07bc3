"""Storage options of a multi-vector collection: token pooling, token precision, first stage.

Chosen when a collection is created, stored with it and checked when it is reopened
(:func:`check_stored_options`):

* ``pool_factor``: documents' token vectors are pooled at ingest (never queries') by
  hierarchical clustering on cosine distance into ``ceil(n / pool_factor)`` clusters, each
  stored as its renormalised mean (Clavié et al., 2024, "Reducing the Footprint of Multi-Vector
  Retrieval with Minimal Performance Impact via Token Pooling"). ``1`` stores every token.
* ``token_precision``: how the engine stores the token vectors (see the engines for what each
  keeps on disk and how the final top k is rescored).
* ``first_stage``: where ``hybrid`` searches take their candidates: the ``dense`` single vector,
  or ``muvera``, a fixed-dimensional encoding of the token vectors (Dhulipala et al., 2024)
  computed with the ``muvera-python`` package and stored as one more vector.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import Any, Literal

import numpy as np

from univec.errors import InvalidArgumentError, SchemaMismatchError

__all__ = [
    "FIRST_STAGES",
    "MUVERA_FLOAT16",
    "TOKEN_PRECISIONS",
    "FirstStage",
    "MuveraEncoding",
    "StorageOptions",
    "TokenPrecision",
    "check_stored_options",
    "pool_tokens",
]

TokenPrecision = Literal["float32", "float16", "int8", "binary"]
FirstStage = Literal["dense", "muvera"]
TOKEN_PRECISIONS: tuple[str, ...] = ("float32", "float16", "int8", "binary")
FIRST_STAGES: tuple[str, ...] = ("dense", "muvera")
#: Most tokens clustered together: longer documents are pooled in consecutive blocks of this
#: many (the distance matrix of a block takes 8 MB).
POOL_BLOCK = 1024


@dataclass(frozen=True)
class StorageOptions:
    """The storage options of a collection (the defaults are what univec stored before them).

    Attributes:
        pool_factor: Token vectors of a document are pooled into ``ceil(n / pool_factor)``
            (``1``: not pooled).
        token_precision: ``"float32"``, ``"float16"``, ``"int8"`` or ``"binary"``.
        first_stage: ``"dense"`` or ``"muvera"``: the candidates of ``hybrid`` searches.
    """

    pool_factor: int = 1
    token_precision: TokenPrecision = "float32"
    first_stage: FirstStage = "dense"

    def __post_init__(self) -> None:
        factor = self.pool_factor
        if isinstance(factor, bool) or not isinstance(factor, (int, np.integer)) or factor < 1:
            raise InvalidArgumentError(
                f"pool_factor={factor!r} must be a positive integer (1 = no pooling; 2 halves "
                "the stored token vectors)."
            )
        object.__setattr__(self, "pool_factor", int(factor))
        if self.token_precision not in TOKEN_PRECISIONS:
            raise InvalidArgumentError(
                f"token_precision={self.token_precision!r} is not one of {list(TOKEN_PRECISIONS)}."
            )
        if self.first_stage not in FIRST_STAGES:
            raise InvalidArgumentError(
                f"first_stage={self.first_stage!r} is not one of {list(FIRST_STAGES)}."
            )

    def as_dict(self) -> dict[str, Any]:
        """The options as stored with a collection (JSON)."""
        return {
            "pool_factor": self.pool_factor,
            "token_precision": self.token_precision,
            "first_stage": self.first_stage,
        }

    @classmethod
    def from_stored(cls, stored: Mapping[str, Any] | None) -> StorageOptions:
        """Options read back from a collection; a collection without any has the defaults."""
        stored = stored or {}
        return cls(
            pool_factor=int(stored.get("pool_factor", 1)),
            token_precision=stored.get("token_precision", "float32"),
            first_stage=stored.get("first_stage", "dense"),
        )


def check_stored_options(where: str, wanted: StorageOptions, stored: StorageOptions) -> None:
    """Raise :class:`SchemaMismatchError` unless an existing collection has ``wanted``'s options.

    Args:
        where: The collection, as the error message names it.
        wanted: The options this collection object was given.
        stored: The options the existing collection was created with.
    """
    if wanted == stored:
        return
    differences = ", ".join(
        f"{name}={value!r} (this object asks for {wanted.as_dict()[name]!r})"
        for name, value in stored.as_dict().items()
        if wanted.as_dict()[name] != value
    )
    passed = ", ".join(f"{name}={value!r}" for name, value in stored.as_dict().items())
    raise SchemaMismatchError(
        f"{where} was created with {differences}. Its stored vectors cannot change: open it "
        f"with {passed}, or use another collection name (or delete it and add the documents "
        "again)."
    )


# --------------------------------------------------------------------------- pooling
def pool_tokens(tokens: np.ndarray, pool_factor: int) -> np.ndarray:
    """Pool a document's token vectors by hierarchical clustering on cosine distance.

    Ward linkage on the cosine distances of the (unit) token vectors, cut into
    ``ceil(n / pool_factor)`` clusters; each cluster is stored as the mean of its tokens,
    renormalised to unit length, so that MaxSim still sees cosines. Every token belongs to
    exactly one cluster, so none is dropped: a query token that matched it now matches its
    cluster's mean. Clusters are returned in the order of their first token.

    Args:
        tokens: ``(n, d)`` token vectors of one document.
        pool_factor: ``1`` returns ``tokens`` unchanged.

    Returns:
        ``(ceil(n / pool_factor), d)`` float32 vectors (documents of more than
        :data:`POOL_BLOCK` tokens are pooled block by block, so a few more).
    """
    tokens = np.asarray(tokens, np.float32)
    count = len(tokens)
    clusters = math.ceil(count / pool_factor)
    if pool_factor <= 1 or count <= 1 or clusters >= count:
        return tokens
    if count > POOL_BLOCK:  # bounded memory: cluster consecutive blocks of tokens
        return np.concatenate(
            [
                pool_tokens(tokens[start : start + POOL_BLOCK], pool_factor)
                for start in range(0, count, POOL_BLOCK)
            ]
        )
    labels = _cluster(tokens, clusters)
    order = np.unique(labels, return_index=True)
    first = dict(zip(order[0].tolist(), order[1].tolist(), strict=True))
    ranked = sorted(first, key=first.__getitem__)
    remap = np.empty(int(labels.max()) + 1, np.int64)
    remap[ranked] = np.arange(len(ranked))
    labels = remap[labels]
    members = np.zeros((len(ranked), count), np.float32)
    members[labels, np.arange(count)] = 1.0
    sums = members @ tokens
    norms = np.linalg.norm(sums, axis=1, keepdims=True)
    pooled = np.divide(sums, norms, out=np.zeros_like(sums), where=norms > 0)
    return pooled.astype(np.float32)


def _cluster(tokens: np.ndarray, clusters: int) -> np.ndarray:
    from univec._optional import require

    hierarchy = require("scipy.cluster.hierarchy", "compression")
    squareform = require("scipy.spatial.distance", "compression").squareform
    fcluster, linkage = hierarchy.fcluster, hierarchy.linkage

    unit = tokens.astype(np.float64)
    unit /= np.maximum(np.linalg.norm(unit, axis=1, keepdims=True), 1e-12)
    distances = np.clip(1.0 - unit @ unit.T, 0.0, 2.0)
    np.fill_diagonal(distances, 0.0)
    tree = linkage(squareform(distances, checks=False), method="ward")
    return np.asarray(fcluster(tree, t=clusters, criterion="maxclust")) - 1


# --------------------------------------------------------------------------- MUVERA
@dataclass(frozen=True)
class MuveraEncoding:
    """MUVERA fixed-dimensional encodings of token vectors (``muvera-python``).

    ``repetitions`` times, ``simhash_projections`` random hyperplanes split the token space
    into ``2 ** simhash_projections`` partitions; each partition's sum (queries) or mean
    (documents) is projected to ``projection_dimension`` dimensions by an AMS sketch.
    Documents fill empty partitions from their nearest token, as in the paper. The defaults
    give 1,152 dimensions (6 x 32 partitions x 6; Milvus stores them in float32); engines
    that store the encoding in float16 use :data:`MUVERA_FLOAT16` (3,072). A collection's
    stored encodings must match its queries': the engine picks the shape, and its size is
    part of the checked schema, so each shape univec has stored has its own size (the first
    one, 10 x 16 partitions x 8, was 1,280-d).

    How the shape was chosen (20,000 documents of ``benchmarks/storage.py``'s two corpora,
    512 candidates; the share of the exact MaxSim top 10 among them, synthetic / lexical):
    the first shape 0.98 / 0.73; 6 x 32 x 6 (1,152-d) 0.94 / 0.87; 6 x 64 x 8 (3,072-d)
    0.97 / 0.98. Finer partitions find the documents that share rare tokens with the query
    (lexical); more repetitions, the ones of the query's topics (synthetic).
    """

    dim: int = 128
    repetitions: int = 6
    simhash_projections: int = 5
    projection_dimension: int = 6
    seed: int = 42

    @property
    def output_dim(self) -> int:
        """Size of one encoding."""
        return self.repetitions * 2**self.simhash_projections * self.projection_dimension

    @cached_property
    def _model(self) -> Any:
        from univec._optional import require

        muvera = require("muvera", "compression")
        return muvera.Muvera(
            num_repetitions=self.repetitions,
            num_simhash_projections=self.simhash_projections,
            dimension=self.dim,
            projection_type="ams_sketch",
            projection_dimension=self.projection_dimension,
            fill_empty_partitions=True,
            seed=self.seed,
        )

    def documents(self, documents: list[np.ndarray]) -> np.ndarray:
        """``(len(documents), output_dim)`` encodings of documents' token vectors."""
        model = self._model
        return np.stack(
            [np.asarray(model.encode_documents(np.asarray(d, np.float32)), np.float32).ravel()
             for d in documents]
        )  # fmt: skip

    def query(self, tokens: np.ndarray) -> np.ndarray:
        """``(output_dim,)`` encoding of a query's token vectors."""
        encoded = self._model.encode_queries(np.asarray(tokens, np.float32))
        return np.asarray(encoded, np.float32).ravel()


#: MUVERA shape of engines storing the encoding in float16 (Qdrant): 6 x 64 partitions x 8,
#: 3,072 dimensions, 6 KB a document (the float32 engines' 1,152-d default takes 4.5 KB).
MUVERA_FLOAT16 = {"repetitions": 6, "simhash_projections": 6, "projection_dimension": 8}
