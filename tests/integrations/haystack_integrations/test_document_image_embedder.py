"""UnivecDocumentImageEmbedder: init, to_dict, from_dict, run on images and PDF pages, wrong input."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
from haystack import Document

from haystack_integrations.components.embedders.univec import UnivecDocumentImageEmbedder
from tests.support.spies import count_encode_calls

TYPE = "haystack_integrations.components.embedders.univec.document_image_embedder.UnivecDocumentImageEmbedder"


@pytest.fixture
def image_dir(tmp_path, golden_images):
    for path in golden_images:
        shutil.copy(path, tmp_path / path.name)
    return tmp_path


def _documents(golden_images) -> list[Document]:
    return [Document(content=f"image {p.name}", meta={"file_path": p.name}) for p in golden_images]


def test_to_dict_and_from_dict_round_trip() -> None:
    embedder = UnivecDocumentImageEmbedder(
        backend="api",
        file_path_meta_field="path",
        root_path="scans",
        batch_size=2,
        progress_bar=False,
    )
    data = embedder.to_dict()
    assert data["type"] == TYPE
    params = data["init_parameters"]
    assert (params["file_path_meta_field"], params["root_path"], params["batch_size"]) == (
        "path",
        "scans",
        2,
    )
    assert params["api_key"] == {"type": "env_var", "env_vars": ["JINA_API_KEY"], "strict": False}
    loaded = UnivecDocumentImageEmbedder.from_dict(data)
    assert loaded.to_dict() == data


@pytest.mark.parametrize(
    ("family", "task"), [("retrieval", "retrieval.passage"), ("code", "code.passage")]
)
def test_run_matches_encoder(
    tiny_encoder, golden_images, image_dir, family: str, task: str
) -> None:
    embedder = UnivecDocumentImageEmbedder(
        encoder=tiny_encoder, task=family, root_path=str(image_dir), progress_bar=False
    )
    documents = _documents(golden_images)

    result = embedder.run(documents)["documents"]

    np.testing.assert_allclose(
        [d.embedding for d in result], tiny_encoder.encode(golden_images, task), atol=1e-6
    )
    assert result[0].meta["embedding_source"] == {
        "type": "image",
        "file_path_meta_field": "file_path",
    }
    assert result[0].meta["file_path"] == golden_images[0].name
    assert documents[0].embedding is None


def test_absolute_paths_without_root_and_batches(tiny_encoder, golden_images, monkeypatch) -> None:
    expected = tiny_encoder.encode(golden_images, "retrieval.passage")
    sizes = count_encode_calls(tiny_encoder, monkeypatch)
    documents = [Document(content="x", meta={"image": str(p)}) for p in golden_images]
    embedder = UnivecDocumentImageEmbedder(
        encoder=tiny_encoder, file_path_meta_field="image", batch_size=1, progress_bar=False
    )

    result = embedder.run(documents)["documents"]

    assert sizes == [1, 1]
    np.testing.assert_allclose([d.embedding for d in result], expected, atol=1e-6)


def test_pdf_page_is_rendered_and_embedded(tiny_encoder, golden_images, tmp_path) -> None:
    from haystack.components.converters.image.image_utils import _convert_pdf_to_images
    from haystack.dataclasses import ByteStream
    from PIL import Image

    pdf = tmp_path / "two_pages.pdf"
    first, second = (Image.open(p).convert("RGB") for p in golden_images)
    first.save(pdf, "PDF", save_all=True, append_images=[second])
    documents = [Document(content="page 2", meta={"file_path": "two_pages.pdf", "page_number": 2})]
    embedder = UnivecDocumentImageEmbedder(
        encoder=tiny_encoder, root_path=str(tmp_path), progress_bar=False
    )

    result = embedder.run(documents)["documents"]

    [(_, page)] = _convert_pdf_to_images(bytestream=ByteStream.from_file_path(pdf), page_range=[2])
    np.testing.assert_allclose(
        result[0].embedding, tiny_encoder.encode([page], "retrieval.passage")[0], atol=1e-6
    )


async def test_run_async_and_api_backend(
    api_encoder, tiny_encoder, golden_images, image_dir
) -> None:
    embedder = UnivecDocumentImageEmbedder(
        encoder=api_encoder, root_path=str(image_dir), dimensions=32, progress_bar=False
    )
    result = (await embedder.run_async(_documents(golden_images)))["documents"]
    expected = tiny_encoder.encode(golden_images, "retrieval.passage", dimensions=32)
    np.testing.assert_allclose([d.embedding for d in result], expected, atol=1e-6)


async def test_run_async_local_from_config(
    tiny_encoder, tiny_model_path, golden_images, image_dir
) -> None:
    embedder = UnivecDocumentImageEmbedder(
        backend="local",
        model=str(tiny_model_path),
        device="cpu",
        root_path=str(image_dir),
        progress_bar=False,
    )
    result = (await embedder.run_async(_documents(golden_images)))["documents"]
    np.testing.assert_allclose(
        [d.embedding for d in result],
        tiny_encoder.encode(golden_images, "retrieval.passage"),
        atol=1e-6,
    )


def test_wrong_input(tiny_encoder, image_dir) -> None:
    embedder = UnivecDocumentImageEmbedder(encoder=tiny_encoder, root_path=str(image_dir))
    with pytest.raises(TypeError, match="list of Documents"):
        embedder.run("0.png")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="file_path"):
        embedder.run([Document(content="no path")])
    with pytest.raises(ValueError, match="invalid file path"):
        embedder.run([Document(content="x", meta={"file_path": "missing.png"})])
    with pytest.raises(ValueError, match="escapes"):
        embedder.run([Document(content="x", meta={"file_path": "../outside.png"})])
    (image_dir / "notes.txt").write_text("not an image")
    with pytest.raises(ValueError, match="MIME"):
        embedder.run([Document(content="x", meta={"file_path": "notes.txt"})])
