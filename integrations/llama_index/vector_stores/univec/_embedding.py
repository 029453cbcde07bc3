"""The store's embed model: one encoding pass gives the index its vectors and the store both."""

from __future__ import annotations

import base64
import threading
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any

import numpy as np
from llama_index.core.bridge.pydantic import PrivateAttr
from llama_index.core.schema import BaseNode, ImageNode, MetadataMode, TextNode

from llama_index.embeddings.univec import UnivecEmbedding
from univec.backends.base import Embeddings
from univec.errors import InvalidInputError
from univec.inputs import Image
from univec_frameworks import as_image

__all__ = ["OnePassEmbedding", "PendingVectors", "node_item"]

PASSAGE = "retrieval.passage"


def node_item(node: BaseNode) -> str | Image:
    """What the store encodes for a node: an ``ImageNode``'s image, else its embed text.

    Raises:
        InvalidInputError: Not a ``TextNode`` / ``ImageNode`` (a ``TypeError``).
    """
    if isinstance(node, ImageNode) and (node.image or node.image_path or node.image_url):
        if node.image:
            return Image(base64.b64decode(node.image))
        return as_image(node.image_path or node.image_url)
    if isinstance(node, TextNode):
        return node.get_content(metadata_mode=MetadataMode.EMBED)
    raise InvalidInputError(
        f"Node {getattr(node, 'node_id', '?')!r} is a {type(node).__name__}; the store holds "
        "TextNode (and Document) text and ImageNode images: convert it to one of those."
    )


class PendingVectors:
    """Both outputs of passes already run, waiting for the store's ``add`` (bounded, FIFO)."""

    def __init__(self, limit: int = 8192) -> None:
        self.limit = limit
        self._items: OrderedDict[tuple[str, str], tuple[np.ndarray, np.ndarray]] = OrderedDict()
        self._lock = threading.Lock()

    def put(self, keys: Sequence[tuple[str, str]], both: Embeddings) -> None:
        """Keep the dense and multi vectors of each key (one key per encoded item)."""
        assert both.dense is not None and both.multi is not None  # encode_both gives both
        with self._lock:
            for key, dense, multi in zip(keys, both.dense, both.multi, strict=True):
                self._items[key] = (np.asarray(dense, np.float32), np.asarray(multi, np.float32))
                self._items.move_to_end(key)
            while len(self._items) > self.limit:
                self._items.popitem(last=False)

    def take(self, node: BaseNode) -> tuple[np.ndarray, np.ndarray] | None:
        """The vectors of ``node`` if a pass over it (or its embed text) ran and still fits it."""
        keys = [("node", node.node_id)]
        if not isinstance(node, ImageNode) and isinstance(node, TextNode):
            keys.append(("text", node.get_content(metadata_mode=MetadataMode.EMBED)))
        with self._lock:
            for key in keys:
                found = self._items.pop(key, None)
                if found is not None and (
                    node.embedding is None or np.allclose(found[0], node.embedding, atol=1e-6)
                ):
                    return found
        return None


class OnePassEmbedding(UnivecEmbedding):
    """``UnivecEmbedding`` of a store's collection whose document passes feed the store too.

    Each document pass runs ``encode_both``: the dense vectors go to LlamaIndex, the token
    vectors wait in the store's :class:`PendingVectors` until it adds the nodes, so the model
    runs once per node. As a transformation (``embed_model(nodes)``) it encodes ``ImageNode``
    images as images.
    """

    _pending: PendingVectors = PrivateAttr()

    def __init__(self, pending: PendingVectors, **data: Any) -> None:
        super().__init__(**data)
        self._pending = pending

    @classmethod
    def class_name(cls) -> str:
        """The name LlamaIndex records in serialised forms."""
        return "UnivecOnePassEmbedding"

    def _encode(self, items: list[Any], keys: list[tuple[str, str]]) -> list[list[float]]:
        both = self._family.encoder.encode_both(items, PASSAGE, dimensions=self.dimensions)
        self._pending.put(keys, both)
        return np.asarray(both.dense).tolist()

    async def _aencode(self, items: list[Any], keys: list[tuple[str, str]]) -> list[list[float]]:
        encoder = self._family.encoder
        both = await encoder.aencode_both(items, PASSAGE, dimensions=self.dimensions)
        self._pending.put(keys, both)
        return np.asarray(both.dense).tolist()

    def _get_text_embeddings(self, texts: list[str]) -> list[list[float]]:
        return self._encode(list(texts), [("text", text) for text in texts])

    async def _aget_text_embeddings(self, texts: list[str]) -> list[list[float]]:
        return await self._aencode(list(texts), [("text", text) for text in texts])

    def __call__(self, nodes: Sequence[BaseNode], **kwargs: Any) -> Sequence[BaseNode]:
        """Embed nodes as a transformation (images as images), one pass for all of them."""
        keys = [("node", node.node_id) for node in nodes]
        for node, vector in zip(
            nodes, self._encode([node_item(n) for n in nodes], keys), strict=True
        ):
            node.embedding = vector
        return nodes

    async def acall(self, nodes: Sequence[BaseNode], **kwargs: Any) -> Sequence[BaseNode]:
        """Async form of :meth:`__call__`."""
        keys = [("node", node.node_id) for node in nodes]
        vectors = await self._aencode([node_item(n) for n in nodes], keys)
        for node, vector in zip(nodes, vectors, strict=True):
            node.embedding = vector
        return nodes
