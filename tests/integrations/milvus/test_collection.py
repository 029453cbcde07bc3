"""MilvusCollection on Milvus Lite (the real engine, in-process) with the real tiny checkpoint.

The same behaviours as the Qdrant collection tests; scores are compared with NumPy MaxSim /
cosine of the encoder's own vectors.
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
    InvalidDimensionsError,
    SchemaMismatchError,
)

pytest.importorskip("pypdfium2")

from univec.integrations.milvus import DEFAULT_URI, MilvusCollection

TEXTS = [
    "The cat sat on the mat.",
    "Dogs bark at the moon at night.",
    "Paris is the capital of France.",
    "Python and Rust are programming languages.",
    "The mitochondria is the powerhouse of the cell.",
]


@pytest.fixture
def open_collection(lite_uri, collection_name, tiny_encoder):
    """A factory of collections on the session's Milvus Lite; closes what it opened."""
    opened: list[MilvusCollection] = []

    def factory(name: str = collection_name, **kwargs) -> MilvusCollection:
        kwargs.setdefault("uri", lite_uri)
        collection = MilvusCollection(name, tiny_encoder, progress=False, **kwargs)
        opened.append(collection)
        return collection

    yield factory
    for collection in opened:
        collection.close()


@pytest.fixture
def collection(open_collection) -> MilvusCollection:
    return open_collection()


def make_pdf(colors: list[str]) -> bytes:
    """A small PDF, one plain page per colour, with a black bar at a different height."""
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
    return np.array([univec.maxsim(query_multi, document) for document in documents])


def release_lite(uri: str) -> None:
    """Stop the Milvus Lite instance of ``uri``: the next client starts it again from disk."""
    from milvus_lite.server_manager import server_manager_instance

    server_manager_instance.release_server(uri)


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


def test_filters_eq_in_and_native(collection):
    metadata = [
        {"lang": "en", "year": 2020},
        {"lang": "fr", "year": 2021},
        {"lang": "en", "year": 2022, "title": 'A "quoted"\\ title\n'},
        {"lang": "de", "year": 2023},
        {"lang": "fr", "year": 2024, "draft": True, "score": 0.5},
    ]
    collection.add(TEXTS, ids=list("abcde"), metadata=metadata)
    for mode in ("multi", "dense", "hybrid"):
        found = {h.id for h in collection.search("text", k=10, mode=mode, filter={"lang": "en"})}
        assert found == {"a", "c"}, mode
        in_filter = {"year": {"in": [2021, 2023]}}
        assert {h.id for h in collection.search("text", k=10, mode=mode, filter=in_filter)} == {
            "b",
            "d",
        }
    assert {h.id for h in collection.search("x", filter={"lang": ["de", "fr"], "year": 2024})} == {
        "e"
    }
    assert {h.id for h in collection.search("x", filter={"draft": True, "score": 0.5})} == {"e"}
    assert {h.id for h in collection.search("x", filter={"title": 'A "quoted"\\ title\n'})} == {"c"}
    assert collection.search("x", filter={"lang": []}) == []
    native = 'payload["metadata"]["year"] >= 2023'
    assert {h.id for h in collection.search("text", k=10, filter=native)} == {"d", "e"}
    assert collection.count(native) == 2 and collection.count({"lang": ["en", "de"]}) == 3
    with pytest.raises(InvalidArgumentError, match="expression"):
        collection.search("text", filter=42)
    with pytest.raises(CollectionError, match="failed"):
        collection.search("text", filter="this is not ( an expression")


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
    monkeypatch.setattr(MilvusCollection, "max_part_tokens", 40)  # short texts stay whole
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
    assert collection.count({"long": True}) == 1
    (stored,) = collection.get(["long"], with_vectors=True)
    np.testing.assert_allclose(stored.multi, tokens, atol=1e-5)
    collection.add(["now it is short"], ids=["long"])  # the stale parts go away
    assert collection.engine.count() == 6
    collection.delete(["long"])
    assert collection.engine.count() == 5


# --------------------------------------------------------------------------- schema / engines
def test_other_dimensions_are_a_schema_mismatch(open_collection):
    open_collection().add(["x"])
    with pytest.raises(SchemaMismatchError, match="dimensions=64"):
        open_collection(dimensions=32)
    assert len(open_collection()) == 1  # nothing was changed
    with pytest.raises(InvalidDimensionsError):
        open_collection(dimensions=12)


def test_matryoshka_dimensions_are_stored(open_collection, tiny_encoder):
    collection = open_collection(dimensions=16)
    collection.add(TEXTS[:2], ids=["a", "b"])
    (stored,) = collection.get(["a"], with_vectors=True)
    assert stored.dense.shape == (16,)
    expected = tiny_encoder.encode([TEXTS[0]], "retrieval.passage", dimensions=16)[0]
    np.testing.assert_allclose(stored.dense, expected, atol=1e-5)


def test_reopen_keeps_everything(tmp_path, tiny_encoder, mixed_items):
    uri = str(tmp_path / "store.db")
    with MilvusCollection("docs", tiny_encoder, uri=uri, progress=False) as collection:
        collection.add(mixed_items, metadata=[{"n": i} for i in range(len(mixed_items))])
        before = collection.search("cat", k=9, mode="hybrid")
    release_lite(uri)  # a fresh Milvus Lite reads the collection back from disk
    assert (tmp_path / "store.db").is_dir()
    with MilvusCollection("docs", tiny_encoder, uri=uri, progress=False) as reopened:
        assert len(reopened) == len(mixed_items) and reopened.layout == "portable"
        after = reopened.search("cat", k=9, mode="hybrid")
        assert [(h.id, h.metadata) for h in after] == [(h.id, h.metadata) for h in before]
        assert [h.score for h in after] == pytest.approx([h.score for h in before], abs=1e-6)
        assert [h.id for h in reopened.search("cat", k=9, mode="multi")] == [h.id for h in after]
    with pytest.raises(SchemaMismatchError):
        MilvusCollection("docs", tiny_encoder, uri=uri, dimensions=16)
    with MilvusCollection("docs", tiny_encoder, uri=uri, progress=False) as again:
        assert len(again) == len(mixed_items)
    release_lite(uri)


def test_milvus_lite_is_the_default_engine(tmp_path, tiny_encoder, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with MilvusCollection("docs", tiny_encoder, progress=False) as collection:
        collection.add(["hello"])
        assert "MilvusEngine" in repr(collection) and "portable" in repr(collection)
        assert collection.layout == "portable"
    assert DEFAULT_URI == "./univec.db" and (tmp_path / "univec.db").is_dir()
    release_lite(str(tmp_path / "univec.db"))


def test_missing_parent_directories_are_created(tmp_path, tiny_encoder):
    uri = tmp_path / "a" / "b" / "docs.db"
    with MilvusCollection("docs", tiny_encoder, uri=uri, progress=False) as collection:
        collection.add(["hello"])
    assert uri.is_dir()
    release_lite(str(uri))


def test_client_passed_in_stays_open(lite_uri, collection_name, tiny_encoder):
    from pymilvus import MilvusClient

    client = MilvusClient(lite_uri)
    with MilvusCollection(collection_name, tiny_encoder, client=client, progress=False) as c:
        c.add(["hello", "world"])
        assert "'client'" in repr(c)
    rows = client.query(collection_name, filter="", output_fields=["count(*)"])
    assert rows[0]["count(*)"] == 2  # still usable
    client.close()


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"client": object(), "uri": "http://localhost:19530"}, "client and uri"),
        ({"client": object(), "token": "t"}, "client and token"),
        ({"client": object(), "timeout": 3}, "options"),
        ({"layout": "fast"}, "layout='fast'"),
    ],
)
def test_conflicting_engine_arguments(tiny_encoder, kwargs, match):
    with pytest.raises(ConfigurationError, match=match):
        MilvusCollection("docs", tiny_encoder, **kwargs)


def test_token_never_shown(tiny_encoder, caplog):
    secret = "sk-univec-test-0123456789"
    caplog.set_level(logging.DEBUG)
    with pytest.raises(CollectionError) as info:
        # Nothing listens on port 9: connecting fails at once.
        MilvusCollection(
            "docs", tiny_encoder, uri=f"http://root:{secret}@127.0.0.1:9", token=secret
        )
    assert "127.0.0.1:9" in str(info.value)
    assert secret not in str(info.value) and secret not in repr(info.value)
    assert info.value.__cause__ is None and info.value.__suppress_context__
    assert secret not in caplog.text


def test_repr_hides_the_token(lite_uri, collection_name, tiny_encoder):
    from univec.integrations.milvus._engine import _display

    token = "sk-secret-value"
    with MilvusCollection(
        collection_name, tiny_encoder, uri=lite_uri, token=token, progress=False
    ) as c:
        assert token not in repr(c) and token not in repr(c.engine) and lite_uri in repr(c.engine)
    assert (
        _display(f"https://root:{token}@example.com:19530") == "https://root:***@example.com:19530"
    )
    assert _display("http://localhost:19530") == "http://localhost:19530"


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
    assert collection.get(["doc.pdf#2"])[0].metadata == {"page": 2}


def test_closed_collection_refuses_work(open_collection):
    collection = open_collection()
    collection.close()
    collection.close()  # idempotent
    with pytest.raises(CollectionError, match="closed"):
        collection.search("x")
