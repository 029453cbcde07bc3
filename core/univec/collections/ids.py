"""Document ids: type-tagged keys, deterministic point ids, ids derived from content."""

from __future__ import annotations

import hashlib
import uuid

from univec.collections.types import DocumentId
from univec.errors import InvalidInputError
from univec.inputs import Image

__all__ = ["MAX_ID", "MIN_ID", "POINT_ID_NAMESPACE", "content_id", "document_key", "point_id"]

#: Namespace of the UUIDv5 point ids (fixed forever: changing it orphans stored points).
POINT_ID_NAMESPACE = uuid.UUID("5d6e3f0a-8c1b-4f57-9a43-2b7c0e9d1f64")
#: Range of int document ids: what Qdrant payloads and Milvus JSON both store exactly.
MIN_ID = -(2**63)
MAX_ID = 2**63 - 1


def document_key(document_id: DocumentId) -> str:
    """Type-tagged form of a document id, so that ``5`` and ``"5"`` stay different documents.

    Raises:
        InvalidInputError: ``document_id`` is not a ``str`` or an ``int`` (``bool`` is refused),
            or is an int outside the signed 64-bit range.
    """
    if isinstance(document_id, bool) or not isinstance(document_id, (str, int)):
        raise InvalidInputError(
            f"Document id {document_id!r} is a {type(document_id).__name__}; ids must be str or "
            "int. Convert it, e.g. str(value)."
        )
    if isinstance(document_id, str):
        if not document_id:
            raise InvalidInputError("Document id '' is empty; use a non-empty string or an int.")
        return f"str:{document_id}"
    if not MIN_ID <= document_id <= MAX_ID:
        raise InvalidInputError(
            f"Document id {document_id} is outside the signed 64-bit range [-2**63, 2**63 - 1] "
            "that every engine stores exactly (Qdrant would store it as a float, which could "
            "then not be read back or deleted). Use str(id) for larger ids."
        )
    return f"int:{int(document_id)}"


def point_id(document_id: DocumentId, part: int = 0, generation: str | None = None) -> str:
    """The engine key of one part of a document: a UUIDv5, the same on every run and machine.

    Part 0 of a document has one key whatever its content. Further parts of a document stored
    in several parts carry the ``generation`` of the content they belong to (see
    :mod:`univec.collections.parts`), so a re-add writes new parts beside the old ones.
    """
    suffix = f"@{generation}" if generation and part else ""
    return str(uuid.uuid5(POINT_ID_NAMESPACE, f"{document_key(document_id)}#{part}{suffix}"))


def content_id(item: str | Image) -> str:
    """A document id derived from content: a hash of the text, or of the image file's bytes.

    Adding the same content again then replaces the stored document instead of duplicating it.
    """
    if isinstance(item, str):
        return "text-" + hashlib.sha256(item.encode("utf-8")).hexdigest()[:32]
    return "image-" + hashlib.sha256(item.read_bytes()).hexdigest()[:32]
