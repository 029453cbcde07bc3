"""Documents stored in several parts: generations, so that a reader never sees a mixed document.

A document whose token vectors do not fit one point is stored as parts ``0..n-1``. Part 0 has
one key per document; parts ``1..n-1`` are keyed by the document, the part *and the generation*
of their content (a hash of the token vectors and the metadata). Re-adding such a document:

1. writes the new parts ``1..n-1`` under the new generation, beside the old ones (readers
   follow part 0, which still names the old generation);
2. replaces part 0, which switches readers to the new generation in one point write, and
   records the old generation in it (``PAYLOAD_REPLACED``);
3. deletes the old generation's parts.

Interrupted anywhere, readers see the old document or the new one, never a mix; a re-run
writes the same generation again (same content, same keys: no duplicates) and step 3 of a later
add or delete removes what an interrupted one left. Hits on parts of another generation than
part 0 names (leftovers, or an add in progress) are ignored by searches.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from typing import Any

import numpy as np

from univec.collections.ids import point_id
from univec.collections.types import (
    PAYLOAD_DOCUMENT_ID,
    PAYLOAD_GENERATION,
    PAYLOAD_PART,
    PAYLOAD_PART_COUNT,
    PAYLOAD_REPLACED,
    DocumentId,
    PointRecord,
)

__all__ = [
    "generation_of",
    "head_generation",
    "hit_generation",
    "needs_head",
    "part_ids",
    "stale_part_ids",
]


def generation_of(parts: list[np.ndarray], metadata: dict[str, Any]) -> str | None:
    """The generation of a document's content; ``None`` for a document stored whole."""
    if len(parts) < 2:
        return None
    digest = hashlib.sha256()
    for tokens in parts:
        digest.update(np.ascontiguousarray(tokens, np.float32).tobytes())
        digest.update(b"|")
    digest.update(json.dumps(metadata, sort_keys=True, separators=(",", ":")).encode("utf-8"))
    return digest.hexdigest()[:16]


def head_generation(head: PointRecord) -> tuple[str | None, int]:
    """``(generation, part_count)`` that part 0 of a document names (``None``: legacy/whole)."""
    generation = head.payload.get(PAYLOAD_GENERATION)
    count = int(head.payload.get(PAYLOAD_PART_COUNT, head.part_count) or 1)
    return (str(generation) if generation else None), count


def hit_generation(payload: dict[str, Any]) -> str | None:
    """The generation a stored part belongs to."""
    generation = payload.get(PAYLOAD_GENERATION)
    return str(generation) if generation else None


def needs_head(payload: dict[str, Any]) -> bool:
    """Whether a hit must be checked against its document's part 0 (it is a part of a split)."""
    return (
        int(payload.get(PAYLOAD_PART, 0) or 0) != 0
        or int(payload.get(PAYLOAD_PART_COUNT, 1) or 1) > 1
    )


def part_ids(document_id: DocumentId, generation: str | None, part_count: int) -> list[str]:
    """Keys of all parts (0 included) of one generation of a document."""
    return [point_id(document_id, part, generation) for part in range(part_count)]


def stale_part_ids(head: PointRecord, keep: Iterable[str] = ()) -> list[str]:
    """Keys of the parts (not part 0) a stored part 0 names: its own and the replaced ones."""
    document_id = head.payload.get(PAYLOAD_DOCUMENT_ID, head.document_id)
    generation, count = head_generation(head)
    generations = [(generation, count)]
    replaced = head.payload.get(PAYLOAD_REPLACED)
    if isinstance(replaced, list) and len(replaced) == 2:
        generations.append((replaced[0] or None, int(replaced[1] or 1)))
    kept = set(keep)
    ids: list[str] = []
    for gen, parts in generations:
        ids.extend(key for key in part_ids(document_id, gen, parts)[1:] if key not in kept)
    return list(dict.fromkeys(ids))
