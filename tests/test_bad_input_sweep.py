"""Acceptance sweep (issue 12): bad input to any public method raises a univec error.

Every case below is bad input to a public entry point; each must raise a ``UnivecError``
subclass (which also derives from the natural builtin), never a raw library exception. The only
exceptions are the framework conventions the integrations document: Haystack components raise
``TypeError`` for a wrong input type, and LangChain classes a pydantic ``ValidationError`` (a
``ValueError``) for an unknown field, as the frameworks' own classes do.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest

import univec
from univec.errors import UnivecError


def _eps() -> bytes:
    from PIL import Image as PILImage

    buffer = io.BytesIO()
    PILImage.new("RGB", (8, 8)).save(buffer, format="EPS")
    return buffer.getvalue()


def _cases(encoder, tmp_path: Path):
    missing = tmp_path / "missing.png"
    junk = tmp_path / "junk.png"
    junk.write_bytes(b"\x89PNG not really")
    yield "encode: bare str", lambda: encoder.encode("text", "retrieval.query")
    yield "encode: None", lambda: encoder.encode(None, "retrieval.query")
    yield "encode: None item", lambda: encoder.encode([None], "retrieval.query")
    yield "encode: dict item", lambda: encoder.encode([{"text": 1}], "retrieval.query")
    yield "encode: bad task", lambda: encoder.encode(["x"], "retrieval")
    yield "encode: bad dims", lambda: encoder.encode(["x"], "retrieval.query", dimensions=7)
    yield "encode: dims+multi", lambda: encoder.encode(["x"], "text-matching", dimensions=16,
                                                       multivector=True)  # fmt: skip
    yield "encode: surrogate", lambda: encoder.encode(["\udc80"], "retrieval.query")
    yield "encode: missing path", lambda: encoder.encode([missing], "retrieval.passage")
    yield "encode: corrupt image", lambda: encoder.encode([junk], "retrieval.passage")
    yield "encode: eps", lambda: encoder.encode([univec.Image(_eps())], "retrieval.passage")
    yield (
        "encode: private url",
        lambda: encoder.encode([univec.Image("http://169.254.169.254/x.png")], "retrieval.passage"),
    )
    yield "Image: int", lambda: univec.Image(3)
    yield "Image: ftp", lambda: univec.Image("ftp://host/x.png")
    yield "Image.from_url: path", lambda: univec.Image.from_url("x.png")
    yield "pdf_pages: not a pdf", lambda: univec.pdf_pages(b"not a pdf")
    yield "pdf_pages: missing", lambda: univec.pdf_pages(tmp_path / "missing.pdf")
    yield "maxsim: widths", lambda: univec.maxsim(np.ones((2, 4)), np.ones((2, 5)))
    yield "maxsim_many: 1-D", lambda: univec.maxsim_many(np.ones(4), [np.ones((2, 4))])
    yield "local: max_length", lambda: univec.Encoder.local("x", max_length=0)
    yield "local: missing dir", lambda: univec.Encoder.local("./no/such/model")
    yield "api: key with newline", lambda: univec.Encoder.api("a\nb")
    yield "api: non-ascii key", lambda: univec.Encoder.api("clé")
    yield "api: ftp base_url", lambda: univec.Encoder.api("k", base_url="ftp://x")
    yield "api: timeout", lambda: univec.Encoder.api("k", timeout=-1)
    yield "from_config: backend", lambda: univec.Encoder.from_config(backend="gpu")
    yield "from_config: option", lambda: univec.Encoder.from_config(backend="api", colour=1)
    yield "from_env: max_length", lambda: univec.Encoder.from_env({"UNIVEC_MAX_LENGTH": "x"})


def _collection_cases(encoder, tmp_path: Path):
    pytest.importorskip("qdrant_edge")
    pytest.importorskip("pymilvus")
    from univec_milvus import MilvusCollection
    from univec_qdrant import QdrantCollection

    yield "qdrant: name", lambda: QdrantCollection("../up", encoder, path=tmp_path)
    yield "milvus: name", lambda: MilvusCollection("../up", encoder, uri=str(tmp_path / "m.db"))
    yield "qdrant: two engines", lambda: QdrantCollection("d", encoder, path=tmp_path, url="x")
    collection = QdrantCollection("docs", encoder, path=tmp_path / "q", progress=False)
    collection.add(["hello"], ids=["a"], metadata=[{"k": "v"}])
    yield "add: ids length", lambda: collection.add(["a", "b"], ids=["x"])
    yield "add: bad id", lambda: collection.add(["a"], ids=[1.5])
    yield "add: huge id", lambda: collection.add(["a"], ids=[2**70])
    yield "add: surrogate id", lambda: collection.add(["a"], ids=["\ud800"])
    yield "add: metadata", lambda: collection.add(["a"], metadata=[{"k": object()}])
    yield "add: deep metadata", lambda: collection.add(["a"], metadata=[_deep(200)])
    yield "search: k", lambda: collection.search("x", k=0)
    yield "search: mode", lambda: collection.search("x", mode="fast")
    yield "search: filter type", lambda: collection.search("x", filter=42)
    yield "search: filter op", lambda: collection.search("x", filter={"k": {"regex": "."}})
    yield "search: backslash key", lambda: collection.search("x", filter={"a\\b": 1})
    yield "get: bare id", lambda: collection.get("a")
    yield "delete: bad id", lambda: collection.delete([None])
    yield "count: filter", lambda: collection.count(filter={"k": []})
    yield "close", collection.close


def _deep(levels: int) -> dict:
    value: dict = {"leaf": 1}
    for _ in range(levels):
        value = {"a": value}
    return value


def test_core_bad_input_raises_univec_errors(tiny_encoder, tmp_path):
    _sweep(_cases(tiny_encoder, tmp_path))


def test_collection_bad_input_raises_univec_errors(tiny_encoder, tmp_path):
    _sweep(_collection_cases(tiny_encoder, tmp_path))


def test_framework_bad_input(tiny_encoder):
    from haystack_integrations.components.embedders.univec import (
        UnivecDocumentEmbedder,
        UnivecTextEmbedder,
    )
    from langchain_univec import UnivecEmbeddings
    from llama_index.embeddings.univec import UnivecEmbedding

    langchain = UnivecEmbeddings(encoder=tiny_encoder)
    llama = UnivecEmbedding(encoder=tiny_encoder)
    _sweep(
        [
            ("langchain: docs str", lambda: langchain.embed_documents("text")),
            ("langchain: query int", lambda: langchain.embed_query(3)),
            ("langchain: image path", lambda: langchain.embed_image(["/no/such.png"])),
            ("llama: task", lambda: UnivecEmbedding(task="bogus")),
            ("llama: dims", lambda: UnivecEmbedding(dimensions=0)),
            ("llama: texts", lambda: llama.get_text_embedding_batch([None])),
            ("haystack: task", lambda: UnivecTextEmbedder(task="bogus")),
        ]
    )
    with pytest.raises(ValueError):  # a pydantic ValidationError, LangChain's convention
        UnivecEmbeddings(colour="red")
    for documented in (
        lambda: UnivecTextEmbedder(encoder=tiny_encoder).run(text=3),
        lambda: UnivecDocumentEmbedder(encoder=tiny_encoder).run(documents="text"),
    ):
        with pytest.raises(TypeError):  # Haystack's convention for a wrong input type
            documented()


def _sweep(cases) -> None:
    raw = []
    for name, call in cases:
        try:
            call()
        except UnivecError:
            continue
        except BaseException as exc:  # the point of the sweep
            raw.append(f"{name}: {type(exc).__module__}.{type(exc).__name__}: {exc}"[:300])
        else:
            if name != "close":
                raw.append(f"{name}: no error")
    assert raw == []
