"""QdrantCollection on both engines: Qdrant Edge (embedded, on disk) and QdrantClient(":memory:").

Every test runs the real engine and the real tiny checkpoint (``tiny_encoder``); scores are
compared with NumPy MaxSim / cosine of the encoder's own vectors.
"""

from __future__ import annotations

import io
import logging
from pathlib import Path

import numpy as np
import pytest

import univec
from univec.errors import (
    CollectionError,
    ConfigurationError,
    InvalidArgumentError,
    SchemaMismatchError,
)

pytest.importorskip("qdrant_client")
pytest.importorskip("qdrant_edge")
pytest.importorskip("pypdfium2")

from qdrant_client import QdrantClient, models

from univec.integrations.qdrant import QdrantCollection

ENGINES = ["edge", "memory"]
TEXTS = [
    "The cat sat on the mat.",
    "Dogs bark at the moon at night.",
    "Paris is the capital of France.",
    "Python and Rust are programming languages.",
    "The mitochondria is the powerhouse of the cell.",
]


@pytest.fixture(params=ENGINES)
def open_collection(request, tmp_path, tiny_encoder):
    """A factory of collections on the engine under test; closes what it opened."""
    client = QdrantClient(":memory:") if request.param == "memory" else None
    opened: list[QdrantCollection] = []

    def factory(name: str = "docs", **kwargs) -> QdrantCollection:
        where = {"client": client} if client is not None else {"path": tmp_path / "qdrant"}
        collection = QdrantCollection(name, tiny_encoder, progress=False, **where, **kwargs)
        opened.append(collection)
        return collection

    def close_all() -> None:
        for collection in opened:
            collection.close()

    factory.engine = request.param  # type: ignore[attr-defined]
    factory.close_all = close_all  # type: ignore[attr-defined]
    yield factory
    close_all()
    if client is not None:
        client.close()


@pytest.fixture
def collection(open_collection) -> QdrantCollection:
    return open_collection()


def make_pdf(colors: list[str]) -> bytes:
    """A small PDF, one plain page per colour, with a bar of a second colour."""
    from PIL import Image, ImageDraw

    pages = []
    for index, color in enumerate(colors):
        page = Image.new("RGB", (240, 320), color)
        ImageDraw.Draw(page).rectangle((20, 40 + 60 * index, 220, 90 + 60 * index), fill="black")
        pages.append(page)
    buffer = io.BytesIO()
    pages[0].save(buffer, format="PDF", save_all=True, append_images=pages[1:])
    return buffer.getvalue()


@pytest.fixture(scope="module")
def mixed_items(golden_images) -> list:
    """Texts, the golden images and the pages of a generated PDF."""
    pages = univec.pdf_pages(make_pdf(["white", "yellow"]), dpi=50)
    return [*TEXTS, *(univec.Image(path) for path in golden_images), *pages]


def exact_maxsim(encoder, query, items) -> np.ndarray:
    query_multi = encoder.encode([query], "retrieval.query", multivector=True)[0]
    documents = encoder.encode(items, "retrieval.passage", multivector=True)
    return np.array([univec.maxsim(query_multi, doc) for doc in documents])


# --------------------------------------------------------------------------- search
@pytest.mark.parametrize("query_kind", ["text", "image"])
def test_multi_scores_equal_numpy_maxsim(
    collection, tiny_encoder, mixed_items, golden_images, query_kind
):
    ids = [f"doc{i}" for i in range(len(mixed_items))]
    collection.add(mixed_items, ids=ids)
    assert len(collection) == len(mixed_items) == 9
    query = "Where do cats sit?" if query_kind == "text" else univec.Image(golden_images[1])
    exact = exact_maxsim(tiny_encoder, query, mixed_items)

    hits = collection.search(query, k=len(ids), mode="multi")
    assert [h.id for h in hits] == [ids[i] for i in np.argsort(-exact, kind="stable")]
    for hit in hits:
        assert hit.score == pytest.approx(exact[ids.index(hit.id)], abs=1e-4)
    by_id = {h.id: h for h in hits}
    assert by_id["doc2"].text == TEXTS[2] and by_id["doc6"].text is None  # an image


def test_dense_scores_are_cosines_of_the_encoder(collection, tiny_encoder, mixed_items):
    collection.add(mixed_items)
    query = "a capital city"
    query_dense = tiny_encoder.encode([query], "retrieval.query")[0]
    cosines = tiny_encoder.encode(mixed_items, "retrieval.passage") @ query_dense
    hits = collection.search(query, k=4, mode="dense")
    assert [h.score for h in hits] == pytest.approx(sorted(cosines, reverse=True)[:4], abs=1e-4)


def test_hybrid_reranks_dense_candidates_by_exact_maxsim(collection, tiny_encoder, mixed_items):
    ids = collection.add(mixed_items)
    query = "programming languages"
    exact = exact_maxsim(tiny_encoder, query, mixed_items)
    full = collection.search(query, k=5, mode="hybrid", candidates=len(ids))
    assert [h.id for h in full] == [ids[i] for i in np.argsort(-exact, kind="stable")[:5]]
    assert [h.score for h in full] == pytest.approx(sorted(exact, reverse=True)[:5], abs=1e-4)

    few = collection.search(query, k=3, mode="hybrid", candidates=4)
    dense_top = [h.id for h in collection.search(query, k=4, mode="dense")]
    assert {h.id for h in few} <= set(dense_top)  # reranked within the dense candidates
    assert [h.score for h in few] == sorted((h.score for h in few), reverse=True)
    for hit in few:
        assert hit.score == pytest.approx(exact[ids.index(hit.id)], abs=1e-4)


def test_filters_eq_in_and_native(open_collection, tiny_encoder):
    collection = open_collection()
    metadata = [
        {"lang": "en", "year": 2020},
        {"lang": "fr", "year": 2021},
        {"lang": "en", "year": 2022},
        {"lang": "de", "year": 2023},
        {"lang": "fr", "year": 2024, "draft": True, "score": 0.5, "note": None},
    ]
    collection.add(TEXTS, ids=list("abcde"), metadata=metadata)
    for mode in ("multi", "dense", "hybrid"):
        assert {
            h.id for h in collection.search("text", k=10, mode=mode, filter={"lang": "en"})
        } == {"a", "c"}
        in_filter = {"year": {"in": [2021, 2023]}}
        assert {h.id for h in collection.search("text", k=10, mode=mode, filter=in_filter)} == {
            "b",
            "d",
        }
    assert {h.id for h in collection.search("x", filter={"lang": ["de", "fr"], "year": 2024})} == {
        "e"
    }
    assert {h.id for h in collection.search("x", filter={"draft": True})} == {"e"}
    assert {h.id for h in collection.search("x", filter={"score": {"in": [0.5, 2.0]}})} == {"e"}
    assert {h.id for h in collection.search("x", filter={"note": None})} == {"e"}
    if open_collection.engine == "edge":
        import qdrant_edge

        native = qdrant_edge.Filter(
            must=[
                qdrant_edge.FieldCondition(key="metadata.lang", match=qdrant_edge.MatchValue("fr"))
            ]
        )
    else:
        native = models.Filter(
            must=[models.FieldCondition(key="metadata.lang", match=models.MatchValue(value="fr"))]
        )
    assert {h.id for h in collection.search("text", k=10, filter=native)} == {"b", "e"}
    assert collection.count(native) == 2 and collection.count({"lang": ["en", "de"]}) == 3
    with pytest.raises(InvalidArgumentError, match="dict"):
        collection.search("text", filter="lang == 'en'")


# --------------------------------------------------------------------------- add / get / delete
def test_readd_keeps_the_count_and_updates(collection):
    collection.add(TEXTS)
    collection.add(TEXTS)
    assert len(collection) == len(TEXTS)
    collection.add(TEXTS[:2], ids=[1, "1"], metadata=[{"v": 1}, {"v": 1}])
    collection.add(["new text", TEXTS[1]], ids=[1, "1"], metadata=[{"v": 2}, None])
    assert len(collection) == len(TEXTS) + 2
    int_doc, str_doc = collection.get([1, "1"])
    assert (int_doc.id, int_doc.text, int_doc.metadata) == (1, "new text", {"v": 2})
    assert (str_doc.id, str_doc.metadata) == ("1", {})


def test_get_and_delete(collection, tiny_encoder):
    collection.add(TEXTS, ids=list("abcde"), metadata=[{"i": i} for i in range(5)])
    got = collection.get(["e", "missing", "a"], with_vectors=True)
    assert [(d.id, d.metadata, d.text) for d in got] == [
        ("e", {"i": 4}, TEXTS[4]),
        ("a", {"i": 0}, TEXTS[0]),
    ]
    expected = tiny_encoder.encode_both([TEXTS[4]], "retrieval.passage")
    np.testing.assert_allclose(got[0].multi, expected.multi[0], atol=1e-5)
    np.testing.assert_allclose(got[0].dense, expected.dense[0], atol=1e-5)
    collection.delete(["a", "c", "missing"])
    assert len(collection) == 3 and collection.get(["a", "c"]) == []
    assert "a" not in {h.id for h in collection.search(TEXTS[0], k=10, mode="multi")}


def test_long_document_is_split_and_found_once(open_collection, tiny_encoder, monkeypatch):
    monkeypatch.setattr(QdrantCollection, "max_part_tokens", 40)  # short texts stay whole
    collection = open_collection()
    long_text = " ".join(f"Sentence {i} talks about topic {i % 7}." for i in range(12))
    collection.add(
        [long_text, *TEXTS], ids=["long", *"abcde"], metadata=[{"long": True}] + [None] * 5
    )
    tokens = tiny_encoder.encode([long_text], "retrieval.passage", multivector=True)[0]
    parts = -(-len(tokens) // 40)
    assert parts >= 3
    assert collection.engine.count() == parts + 5 and len(collection) == 6
    query = "topic 3"
    exact = univec.maxsim(
        tiny_encoder.encode([query], "retrieval.query", multivector=True)[0], tokens
    )
    for mode in ("multi", "hybrid", "dense"):
        hits = collection.search(query, k=6, mode=mode)
        ids = [h.id for h in hits]
        assert ids.count("long") == 1 and len(ids) == 6, mode
        hit = hits[ids.index("long")]
        assert hit.text == long_text and hit.metadata == {"long": True}
        if mode != "dense":
            assert hit.score == pytest.approx(exact, abs=1e-4)
    (stored,) = collection.get(["long"], with_vectors=True)
    np.testing.assert_allclose(stored.multi, tokens, atol=1e-5)
    collection.delete(["long"])
    assert collection.engine.count() == 5


# --------------------------------------------------------------------------- schema / engines
def test_other_dimensions_are_a_schema_mismatch(open_collection):
    open_collection("shared").add(["x"])
    open_collection.close_all()  # an Edge path is locked while open
    with pytest.raises(SchemaMismatchError, match="dimensions=64"):
        open_collection("shared", dimensions=32)
    assert len(open_collection("shared")) == 1  # nothing was changed


def test_edge_reopen_keeps_everything(tmp_path, tiny_encoder, mixed_items):
    path = tmp_path / "store"
    with QdrantCollection("docs", tiny_encoder, path=path, progress=False) as collection:
        collection.add(mixed_items, metadata=[{"n": i} for i in range(len(mixed_items))])
        before = collection.search("cat", k=9, mode="hybrid")
    assert (path / "docs" / "edge_config.json").is_file()
    with QdrantCollection("docs", tiny_encoder, path=path, progress=False) as reopened:
        assert len(reopened) == len(mixed_items)
        after = reopened.search("cat", k=9, mode="hybrid")
        assert [(h.id, h.metadata) for h in after] == [(h.id, h.metadata) for h in before]
        assert [h.score for h in after] == pytest.approx([h.score for h in before], abs=1e-6)
    with pytest.raises(SchemaMismatchError):
        QdrantCollection("docs", tiny_encoder, path=path, dimensions=16)
    with QdrantCollection("docs", tiny_encoder, path=path, progress=False) as again:
        assert len(again) == len(mixed_items)  # the failed open released the lock


def test_edge_optimizes_while_adding_and_stays_exact(tmp_path, tiny_encoder, monkeypatch):
    from univec.integrations.qdrant._edge import EdgeEngine

    calls = []
    original = EdgeEngine.optimize
    monkeypatch.setattr(EdgeEngine, "optimize_min_points", 4)
    monkeypatch.setattr(EdgeEngine, "optimize", lambda self: calls.append(1) or original(self))
    texts = [f"{text} Variant {i}." for i in range(4) for text in TEXTS]  # 20 documents
    with QdrantCollection("docs", tiny_encoder, path=tmp_path, batch_size=4, progress=False) as c:
        ids = c.add(texts)
        assert len(calls) >= 3  # during the add (every >= 4 points) and at its end
        assert c.engine.segments >= 4
        query = "Variant 2 capital"
        exact = exact_maxsim(tiny_encoder, query, texts)
        hits = c.search(query, k=5, mode="multi")
        assert [h.id for h in hits] == [ids[i] for i in np.argsort(-exact, kind="stable")[:5]]
        assert [h.score for h in hits] == pytest.approx(sorted(exact, reverse=True)[:5], abs=1e-4)
        calls.clear()
        c.add(["one more"])
        assert len(calls) == 1  # flush at the end of add
    with QdrantCollection("docs", tiny_encoder, path=tmp_path, progress=False) as reopened:
        assert len(reopened) == 21


def test_edge_is_the_default_engine(tmp_path, tiny_encoder, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with QdrantCollection("docs", tiny_encoder, progress=False) as collection:
        collection.add(["hello"])
        assert "EdgeEngine" in repr(collection)
    assert (tmp_path / "univec_data" / "docs" / "edge_config.json").is_file()


def test_edge_path_is_locked_while_open(tmp_path, tiny_encoder):
    with (
        QdrantCollection("docs", tiny_encoder, path=tmp_path, progress=False),
        pytest.raises(CollectionError, match="already open"),
    ):
        QdrantCollection("docs", tiny_encoder, path=tmp_path)


def test_client_passed_in_stays_open(tiny_encoder):
    client = QdrantClient(":memory:")
    with QdrantCollection("docs", tiny_encoder, client=client, progress=False) as collection:
        collection.add(["hello"])
    assert client.count("docs").count == 1  # still usable
    client.close()


def test_url_memory_is_an_in_process_client(tiny_encoder):
    with QdrantCollection("docs", tiny_encoder, url=":memory:", progress=False) as collection:
        collection.add(["a", "b"])
        assert len(collection) == 2


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"path": "x", "url": "http://localhost:6333"}, "path and url"),
        ({"client": object(), "url": "http://localhost:6333"}, "url and client"),
        ({"api_key": "k"}, "api_key was given without url"),
        ({"timeout": 3}, "QdrantClient options"),
    ],
)
def test_conflicting_engine_arguments(tiny_encoder, kwargs, match):
    with pytest.raises(ConfigurationError, match=match):
        QdrantCollection("docs", tiny_encoder, **kwargs)


def test_api_key_never_shown(tiny_encoder, caplog, recwarn):
    secret = "sk-univec-test-0123456789"
    caplog.set_level(logging.DEBUG)
    with pytest.raises(CollectionError) as info:
        # Nothing listens on port 9: the first request fails.
        QdrantCollection(
            "docs",
            tiny_encoder,
            url="http://127.0.0.1:9",
            api_key=secret,
            timeout=2,
            check_compatibility=False,
        )
    assert "127.0.0.1:9" in str(info.value) or "docs" in str(info.value)
    assert secret not in str(info.value) and secret not in repr(info.value)
    assert info.value.__cause__ is None and info.value.__suppress_context__
    assert secret not in caplog.text
    assert all(secret not in str(warning.message) for warning in recwarn)


@pytest.mark.filterwarnings("ignore:Api key is used with an insecure connection")
def test_repr_hides_the_api_key(tiny_encoder):
    from univec.integrations.qdrant._client import ClientEngine

    engine = ClientEngine(
        "docs", url="http://127.0.0.1:9", api_key="sk-secret-value", check_compatibility=False
    )
    assert "sk-secret-value" not in repr(engine) and "127.0.0.1:9" in repr(engine)
    engine.close()


def test_pdf_pages_are_added_as_images(collection, tiny_encoder, tmp_path: Path):
    pdf = tmp_path / "doc.pdf"
    pdf.write_bytes(make_pdf(["white", "yellow", "cyan"]))
    pages = univec.pdf_pages(pdf, dpi=40)
    ids = collection.add(
        pages, ids=[f"doc.pdf#{i}" for i in range(3)], metadata=[{"page": i} for i in range(3)]
    )
    assert len(collection) == 3
    hits = collection.search(pages[1], k=1, mode="multi")
    exact = exact_maxsim(tiny_encoder, pages[1], pages)
    assert hits[0].id == ids[int(np.argmax(exact))] and hits[0].text is None
    assert hits[0].score == pytest.approx(exact.max(), abs=1e-4)
