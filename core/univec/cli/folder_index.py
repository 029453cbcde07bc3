"""Keeping a collection in sync with a folder (``univec index``).

Each supported file becomes documents (a text or Markdown file: one; an image: one; a PDF: one
per page) under ids derived from its path (``notes/a.md``, ``paper.pdf#page=3``). A manifest
records, per file, the content hash and the ids that may be stored for it; a run compares the
folder with it and only encodes files that are new or changed, deletes the documents of files
that are gone, and skips the rest.

Crash safety: before a file's documents are written, its manifest entry is rewritten (atomically)
with no hash and every id the write may leave behind; after the write and the deletion of ids
the file no longer has, the entry gets its hash. A run killed at any point therefore leaves
entries that the next run sees as changed, and ids are deterministic, so re-running converges
to the folder's content without duplicates.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from univec.errors import ConfigurationError, UnivecError
from univec.inputs import Image

__all__ = [
    "IMAGE_SUFFIXES",
    "PDF_SUFFIXES",
    "TEXT_SUFFIXES",
    "IndexSummary",
    "Manifest",
    "default_manifest_path",
    "index_folder",
]

TEXT_SUFFIXES = frozenset({".txt", ".md", ".markdown", ".rst"})
IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".webp", ".gif", ".bmp", ".tif", ".tiff"})
PDF_SUFFIXES = frozenset({".pdf"})
MANIFEST_VERSION = 1


@dataclass
class IndexSummary:
    """What one ``univec index`` run did, file by file.

    Attributes:
        added: Files indexed for the first time.
        updated: Files whose content changed, re-encoded.
        removed: Files gone from the folder (or now empty) whose documents were deleted.
        skipped: Unchanged files, and empty ones.
        failed: ``(file, reason)`` of files that could not be read, rendered or encoded.
        documents: Documents encoded and written.
    """

    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)
    documents: int = 0

    def line(self) -> str:
        """One line: ``added 3, updated 1, removed 1, skipped 4, failed 0``."""
        return (
            f"added {len(self.added)}, updated {len(self.updated)}, removed "
            f"{len(self.removed)}, skipped {len(self.skipped)}, failed {len(self.failed)}"
        )


class Manifest:
    """Per-file hashes and document ids of a synced collection, saved as JSON (atomically)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.folder: str | None = None
        self.files: dict[str, dict[str, Any]] = {}
        if path.is_file():
            try:
                data = json.loads(path.read_text(encoding="utf-8"))
                self.folder = data["folder"]
                self.files = dict(data["files"])
            except (OSError, ValueError, KeyError, TypeError) as exc:
                raise ConfigurationError(
                    f"The index manifest {str(path)!r} is unreadable ({exc}). Delete it and the "
                    "collection, then index again."
                ) from exc

    def save(self) -> None:
        """Write the manifest: a temporary file in the same folder, fsynced, then renamed."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        data = {"version": MANIFEST_VERSION, "folder": self.folder, "files": self.files}
        handle, temporary = tempfile.mkstemp(
            prefix=self.path.name + ".", suffix=".tmp", dir=self.path.parent
        )
        try:
            with os.fdopen(handle, "w", encoding="utf-8") as stream:
                json.dump(data, stream, indent=1, sort_keys=True)
                stream.flush()
                os.fsync(stream.fileno())
            os.replace(temporary, self.path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise


def default_manifest_path(database: dict[str, Any]) -> Path:
    """Where the manifest of a collection lives unless ``--manifest`` says otherwise.

    Embedded databases keep it beside their data: ``<path>/.univec-index/<name>.json`` for
    Qdrant Edge, ``<dir of uri>/.univec-index/<file>-<name>.json`` for Milvus Lite. For a
    server it lives in ``$XDG_STATE_HOME/univec/index`` (``~/.local/state`` by default), keyed
    by the server's address.
    """
    name = database["collection"]
    if database["database"] == "qdrant" and not database.get("url"):
        return Path(database.get("path") or "./univec_data") / ".univec-index" / f"{name}.json"
    uri = database.get("uri") or "./univec.db"
    if database["database"] == "milvus" and "://" not in str(uri):
        lite = Path(uri)
        return lite.parent / ".univec-index" / f"{lite.name}-{name}.json"
    address = database.get("url") or uri
    digest = hashlib.sha256(f"{database['database']}|{address}".encode()).hexdigest()[:16]
    state = Path(os.environ.get("XDG_STATE_HOME") or Path.home() / ".local" / "state")
    return state / "univec" / "index" / f"{database['database']}-{digest}-{name}.json"


def scan_folder(folder: Path) -> Iterator[tuple[str, Path]]:
    """``(relative path, path)`` of the supported files under ``folder``, sorted; hidden skipped."""
    supported = TEXT_SUFFIXES | IMAGE_SUFFIXES | PDF_SUFFIXES
    for path in sorted(folder.rglob("*")):
        relative = path.relative_to(folder)
        if any(part.startswith(".") for part in relative.parts):
            continue
        if path.suffix.lower() in supported and path.is_file():
            yield relative.as_posix(), path


@dataclass
class _FileDocuments:
    relative: str
    digest: str
    items: list[str | Image]
    ids: list[str]
    metadata: list[dict[str, Any]]


def index_folder(
    folder: Path,
    collection: Any,
    manifest: Manifest,
    *,
    replace: bool = False,
    batch_size: int = 16,
    report: Callable[[str, str, str], None] = lambda status, file, detail: None,
    progress: bool = True,
) -> IndexSummary:
    """Make ``collection`` hold exactly the documents of ``folder`` (see the module docstring).

    Args:
        folder: The folder to index.
        collection: A :class:`univec.collections.MultiVectorCollection`.
        manifest: The collection's manifest (saved as the run goes).
        replace: Allow syncing a collection last synced with another folder (its documents
            from that folder are removed).
        batch_size: Documents encoded per call.
        report: Called with ``(status, file, detail)`` for each file handled: ``added``,
            ``updated``, ``removed``, ``empty``, ``unchanged`` or ``failed``.
        progress: Show a progress bar.

    Raises:
        ConfigurationError: ``folder`` is not a directory, or the collection is synced with
            another folder and ``replace`` is false.
    """
    from tqdm.auto import tqdm

    if not folder.is_dir():
        raise ConfigurationError(f"{str(folder)!r} is not a directory; pass the folder to index.")
    root = str(folder.resolve())
    if manifest.folder not in (None, root) and manifest.files and not replace:
        raise ConfigurationError(
            f"Collection {collection.name!r} is kept in sync with {manifest.folder!r}, not "
            f"{root!r}. Use another --collection, or pass --replace to make it mirror the new "
            "folder (the documents of the old one are removed)."
        )
    manifest.folder = root
    summary = IndexSummary()
    present: dict[str, Path] = dict(scan_folder(folder))
    pending: list[_FileDocuments] = []
    for relative, path in present.items():
        try:
            data = path.read_bytes()
        except OSError as exc:
            summary.failed.append((relative, f"cannot read it ({exc.strerror})"))
            report("failed", relative, f"cannot read it ({exc.strerror})")
            continue
        entry = manifest.files.get(relative)
        if not data.strip():
            summary.skipped.append(relative)
            report("empty", relative, "empty file, skipped")
            if entry is not None:  # it had documents: they no longer match the folder
                _remove(collection, manifest, relative)
                summary.removed.append(relative)
            continue
        digest = hashlib.sha256(data).hexdigest()
        if entry is not None and entry.get("sha256") == digest:
            summary.skipped.append(relative)
            report("unchanged", relative, "")
            continue
        try:
            pending.append(_documents(relative, path, data, digest))
        except UnivecError as exc:
            summary.failed.append((relative, str(exc)))
            report("failed", relative, str(exc))
    for relative in sorted(set(manifest.files) - set(present)):
        _remove(collection, manifest, relative)
        summary.removed.append(relative)
        report("removed", relative, "")
    total = sum(len(file.ids) for file in pending)
    bar = tqdm(total=total, desc="Indexing", unit="doc", disable=not progress or not total)
    try:
        for group in _groups(pending, batch_size):
            _write(collection, manifest, group, summary, report, batch_size)
            bar.update(sum(len(file.ids) for file in group))
    finally:
        bar.close()
    manifest.save()
    return summary


def _documents(relative: str, path: Path, data: bytes, digest: str) -> _FileDocuments:
    suffix = path.suffix.lower()
    meta = {"file": relative, "sha256": digest[:16]}
    if suffix in TEXT_SUFFIXES:
        text = data.decode("utf-8", errors="replace")
        return _FileDocuments(relative, digest, [text], [relative], [{**meta, "kind": "text"}])
    if suffix in IMAGE_SUFFIXES:
        image = Image(data)
        image.to_pil()  # a corrupt image fails here, alone, not in a shared batch
        return _FileDocuments(relative, digest, [image], [relative], [{**meta, "kind": "image"}])
    from univec.pdf import pdf_pages

    pages: list[str | Image] = list(pdf_pages(data))
    ids = [f"{relative}#page={number}" for number in range(1, len(pages) + 1)]
    metadata = [{**meta, "kind": "pdf", "page": n} for n in range(1, len(pages) + 1)]
    return _FileDocuments(relative, digest, pages, ids, metadata)


def _groups(files: list[_FileDocuments], batch_size: int) -> Iterator[list[_FileDocuments]]:
    group: list[_FileDocuments] = []
    size = 0
    for file in files:
        if group and size + len(file.ids) > batch_size:
            yield group
            group, size = [], 0
        group.append(file)
        size += len(file.ids)
    if group:
        yield group


def _write(
    collection: Any,
    manifest: Manifest,
    group: list[_FileDocuments],
    summary: IndexSummary,
    report: Callable[[str, str, str], None],
    batch_size: int,
) -> None:
    previous = {file.relative: manifest.files.get(file.relative) for file in group}
    for file in group:  # write-ahead: every id this write may leave behind, and no hash yet
        old_ids = (previous[file.relative] or {}).get("ids", [])
        manifest.files[file.relative] = {"sha256": None, "ids": sorted({*old_ids, *file.ids})}
    manifest.save()

    def fail(file: _FileDocuments, exc: UnivecError) -> None:
        # The entry keeps no hash: the next run tries the file again.
        summary.failed.append((file.relative, str(exc)))
        report("failed", file.relative, str(exc))

    written: list[_FileDocuments] = []
    try:
        collection.add(
            [item for file in group for item in file.items],
            ids=[document_id for file in group for document_id in file.ids],
            metadata=[meta for file in group for meta in file.metadata],
            batch_size=batch_size,
        )
        written = group
    except UnivecError as exc:
        if len(group) == 1:
            fail(group[0], exc)
        else:  # find the file that broke the batch; the others still get written
            for file in group:
                try:
                    collection.add(
                        file.items, ids=file.ids, metadata=file.metadata, batch_size=batch_size
                    )
                    written.append(file)
                except UnivecError as file_exc:
                    fail(file, file_exc)
    for file in written:
        old_ids = set((previous[file.relative] or {}).get("ids", []))
        stale = sorted(old_ids - set(file.ids))
        if stale:
            collection.delete(stale)
        manifest.files[file.relative] = {"sha256": file.digest, "ids": list(file.ids)}
        status = "updated" if previous[file.relative] is not None else "added"
        (summary.updated if status == "updated" else summary.added).append(file.relative)
        summary.documents += len(file.ids)
        report(status, file.relative, f"{len(file.ids)} document(s)")
    manifest.save()


def _remove(collection: Any, manifest: Manifest, relative: str) -> None:
    ids = manifest.files[relative].get("ids", [])
    if ids:
        collection.delete(list(ids))
    del manifest.files[relative]
    manifest.save()
