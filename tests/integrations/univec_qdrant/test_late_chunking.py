"""Collections take pre-split documents with ``late_chunking=True`` (Qdrant Edge)."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("qdrant_edge")

from univec_qdrant import QdrantCollection

CHUNKS = ["Berlin is the capital of Germany.", " It lies on the Spree.", " Museums abound."]


def test_add_late_chunked_document(tmp_path, tiny_encoder):
    with QdrantCollection("chunks", tiny_encoder, path=tmp_path, progress=False) as collection:
        ids = collection.add(CHUNKS, ids=["a", "b", "c"], late_chunking=True, batch_size=2)
        query = "Which river?"
        hits = {hit.id: hit.score for hit in collection.search(query, k=3, mode="dense")}
        multi_hits = {hit.id: hit.score for hit in collection.search(query, k=3, mode="multi")}
    q = tiny_encoder.encode([query], "retrieval.query")[0]
    late = tiny_encoder.encode(CHUNKS, "retrieval.passage", late_chunking=True)
    assert [hits[i] for i in ids] == pytest.approx((late @ q).tolist(), abs=1e-4)
    alone = tiny_encoder.encode(CHUNKS, "retrieval.passage")
    assert not np.allclose([hits[i] for i in ids], alone @ q, atol=1e-3)
    q_multi = tiny_encoder.encode([query], "retrieval.query", multivector=True)[0]
    docs = tiny_encoder.encode(CHUNKS, "retrieval.passage", multivector=True)
    expected = [float((q_multi @ d.T).max(axis=1).sum()) for d in docs]
    assert [multi_hits[i] for i in ids] == pytest.approx(expected, abs=1e-4)
