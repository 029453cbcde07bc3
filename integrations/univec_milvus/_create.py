"""Opening a collection: check an existing one, or create it with the best layout available.

The native layout is tried where the server version allows it; Milvus Lite and servers without
StructArray fields accept the field at creation and silently drop it, so the schema is read
back before any index is built, and the portable layout is used instead.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from univec.collections import CollectionSchema
from univec.errors import CollectionError, ConfigurationError, SchemaMismatchError
from univec_milvus._detect import check_stored, stored_layout, supports_native
from univec_milvus._native import NativeLayout
from univec_milvus._portable import PortableLayout

if TYPE_CHECKING:
    from univec_milvus._engine import MilvusEngine

logger = logging.getLogger(__name__)


def open_layout(engine: MilvusEngine, schema: CollectionSchema) -> NativeLayout | PortableLayout:
    """The layout of ``engine``'s collection, creating the collection if it does not exist."""
    client, name, requested = engine.client, engine.name, engine.requested_layout
    where = f"Milvus collection {name!r}"
    if engine.call(client.has_collection, name):
        stored = stored_layout(engine.call(client.describe_collection, name))
        check_stored(where, schema, stored)
        assert stored is not None  # check_stored raised otherwise
        if requested not in ("auto", stored.layout):
            raise SchemaMismatchError(
                f"{where} uses the {stored.layout} layout, not {requested}: pass "
                f"layout='auto' (or {stored.layout!r}), or use another collection name."
            )
        engine.call(client.load_collection, name)  # Milvus Lite reopens collections released
        if stored.layout == "native":
            return NativeLayout(schema.multi_dim)
        return PortableLayout(schema.multi_dim, schema.storage)
    if _wants_native(engine) and _native_can_store(engine, schema):
        native = _create_native(engine, schema)
        if native is not None:
            return native
        if requested == "native":
            raise ConfigurationError(
                f"The Milvus behind {engine!r} cannot hold the native layout (it needs Milvus "
                ">= 2.6.4 with StructArray fields; Milvus Lite has none). Pass layout='auto' or "
                "'portable'."
            )
    layout = PortableLayout(schema.multi_dim, schema.storage)
    engine.call(
        client.create_collection,
        name,
        schema=layout.collection_schema(client, schema),
        index_params=layout.index_params(client),
        properties=layout.properties(schema),
        consistency_level="Strong",
    )
    logger.debug("Created Milvus collection %r with the portable layout.", name)
    return layout


def _wants_native(engine: MilvusEngine) -> bool:
    if engine.requested_layout == "portable":
        return False
    version = str(engine.call(engine.client.get_server_version))
    if engine.requested_layout == "native":
        return True
    native = supports_native(version)
    logger.debug("Milvus %s: trying the %s layout.", version, "native" if native else "portable")
    return native


def _native_can_store(engine: MilvusEngine, schema: CollectionSchema) -> bool:
    """Whether the native layout holds these storage options (float32 tokens, dense first)."""
    storage = schema.storage
    if storage.token_precision == "float32" and storage.first_stage == "dense":
        return True
    if engine.requested_layout == "native":
        raise ConfigurationError(
            f"The native Milvus layout stores float32 token vectors with dense candidates; "
            f"token_precision={storage.token_precision!r} and "
            f"first_stage={storage.first_stage!r} need layout='portable' (or 'auto')."
        )
    return False


def _create_native(engine: MilvusEngine, schema: CollectionSchema) -> NativeLayout | None:
    """Create a native collection; ``None`` (and nothing left behind) if the server can't."""
    client, name = engine.client, engine.name
    layout = NativeLayout(schema.multi_dim)
    try:
        fields = layout.collection_schema(client, schema)
    except (AttributeError, ImportError, TypeError) as exc:  # a pymilvus without structs
        logger.debug("pymilvus cannot build StructArray fields: %s", exc)
        return None
    engine.call(
        client.create_collection,
        name,
        schema=fields,
        properties=layout.properties(schema),
        consistency_level="Strong",
    )
    try:
        stored = stored_layout(engine.call(client.describe_collection, name))
        if stored is None or stored.layout != "native":
            raise CollectionError("the StructArray field was dropped at creation")
        engine.call(client.create_index, name, layout.index_params(client))
        engine.call(client.load_collection, name)
    except CollectionError as exc:
        logger.info("Milvus cannot hold the native layout (%s); using the portable one.", exc)
        engine.call(client.drop_collection, name)
        return None
    logger.debug("Created Milvus collection %r with the native layout.", name)
    return layout
