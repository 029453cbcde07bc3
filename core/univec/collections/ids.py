"""Document ids: type-tagged keys, deterministic point ids, ids derived from content."""

from __future__ import annotations

import hashlib
import uuid

from univec.collections.types import DocumentId
from univec.errors import InvalidInputError
from univec.inputs import LONE_SURROGATE, Image

__all__ = ["POINT_ID_NAMESPACE", "content_id", "document_key", "point_id"]

#: Namespace of the UUIDv5 point ids (fixed forever: changing it orphans stored points).
POINT_ID_NAMESPACE = uuid.UUID("5d6e3f0a-8c1b-4f57-9a43-2b7c0e9d1f64")


def document_key(document_id: DocumentId) -> str:
    """Type-tagged form of a document id, so that ``5`` and ``"5"`` stay different documents.

    Raises:
        InvalidInputError: ``document_id`` is not a ``str`` or an ``int`` (``bool`` is refused).
    """
    if isinstance(document_id, bool) or not isinstance(document_id, (str, int)):
        raise InvalidInputError(
            f"Document id {document_id!r} is a {type(document_id).__name__}; ids must be str or "
            "int. Convert it, e.g. str(value)."
        )
    if isinstance(document_id, str):
        if not document_id:
            raise InvalidInputError("Document id '' is empty; use a non-empty string or an int.")
        if LONE_SURROGATE.search(document_id):
            raise InvalidInputError(
                f"Document id {document_id!r} holds a lone surrogate, which is not valid "
                "Unicode text and no engine can store. Fix the string."
            )
        return f"str:{document_id}"
    return f"int:{document_id}"


def point_id(document_id: DocumentId, part: int = 0) -> str:
    """The engine key of one part of a document: a UUIDv5, the same on every run and machine."""
    return str(uuid.uuid5(POINT_ID_NAMESPACE, f"{document_key(document_id)}#{part}"))


def content_id(item: str | Image) -> str:
    """A document id derived from content: a hash of the text, or of the image file's bytes.

    Adding the same content again then replaces the stored document instead of duplicating it.
    """
    if isinstance(item, str):
        return "text-" + hashlib.sha256(item.encode("utf-8")).hexdigest()[:32]
    return "image-" + hashlib.sha256(item.read_bytes()).hexdigest()[:32]
