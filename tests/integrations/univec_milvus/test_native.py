"""The native layout (Milvus >= 2.6.4): the requests it builds, and a real server when one is named.

The request tests run everywhere: they build the schema, index, row and search requests and
let pymilvus serialise them into the protobuf messages a server would receive. The server
tests run only when ``UNIVEC_TEST_MILVUS_URI`` names a Milvus >= 2.6.4 (``UNIVEC_TEST_MILVUS_TOKEN``
optional), e.g. ``UNIVEC_TEST_MILVUS_URI=http://localhost:19530``.
"""

from __future__ import annotations

import os
import uuid

import numpy as np
import pytest

import univec
from tests.integrations.collection_support import TEXTS
from univec.collections import CollectionSchema

pymilvus = pytest.importorskip("pymilvus")

from pymilvus import DataType, MilvusClient  # noqa: E402
from pymilvus.client.abstract import CollectionSchema as DescribedSchema  # noqa: E402
from pymilvus.client.prepare import Prepare  # noqa: E402
from pymilvus.grpc_gen import common_pb2, milvus_pb2, schema_pb2  # noqa: E402

from univec_milvus import MilvusCollection, _native  # noqa: E402
from univec_milvus._detect import stored_layout  # noqa: E402
from univec_milvus._filters import Expression  # noqa: E402

SCHEMA = CollectionSchema(dense_dim=64, multi_dim=128)


def _create_request_schema() -> schema_pb2.CollectionSchema:
    request = Prepare.create_collection_request(
        "docs", _native.collection_schema(MilvusClient, SCHEMA)
    )
    return schema_pb2.CollectionSchema.FromString(request.schema)


# --------------------------------------------------------------------------- requests (no server)
def test_schema_has_a_struct_array_of_128d_token_vectors_beside_dense_and_payload():
    schema = _native.collection_schema(MilvusClient, SCHEMA)
    as_dict = schema.to_dict()
    assert [(f["name"], f["type"]) for f in as_dict["fields"]] == [
        ("id", DataType.VARCHAR),
        ("dense", DataType.FLOAT_VECTOR),
        ("payload", DataType.JSON),
    ]
    assert as_dict["fields"][1]["params"] == {"dim": 64}
    (tokens,) = as_dict["struct_fields"]
    assert tokens["name"] == "tokens" and tokens["max_capacity"] == _native.MAX_TOKENS == 4096
    assert [(f["name"], f["type"], f["params"]) for f in tokens["fields"]] == [
        ("vector", DataType.FLOAT_VECTOR, {"dim": 128})
    ]
    # As sent to the server: an ArrayOfVector of FloatVector inside the StructArray field.
    (struct,) = _create_request_schema().struct_array_fields
    (vector,) = struct.fields
    assert (struct.name, vector.name) == ("tokens", "vector")
    assert (
        vector.data_type == schema_pb2.ArrayOfVector
        and vector.element_type == schema_pb2.FloatVector
    )
    assert {p.key: p.value for p in vector.type_params} == {"dim": "128", "max_capacity": "4096"}


def test_the_schema_reads_back_as_native():
    response = milvus_pb2.DescribeCollectionResponse(schema=_create_request_schema())
    described = DescribedSchema(response).dict()
    from pymilvus.client.utils import convert_struct_fields_to_user_format

    # What MilvusClient.describe_collection returns for it.
    described["fields"].extend(
        convert_struct_fields_to_user_format(described.pop("struct_array_fields"))
    )
    stored = stored_layout(described)
    assert stored is not None and (stored.layout, stored.dense_dim, stored.multi_dim) == (
        "native",
        64,
        128,
    )


def test_indexes_cosine_dense_and_hnsw_max_sim_ip_embedding_lists():
    indexes = {index.field_name: index.to_dict() for index in _native.index_params(MilvusClient)}
    assert set(indexes) == {"dense", "tokens[vector]"}
    assert indexes["dense"] == {
        "field_name": "dense",
        "index_type": "AUTOINDEX",
        "index_name": "",
        "metric_type": "COSINE",
    }
    assert indexes["tokens[vector]"] == {
        "field_name": "tokens[vector]",
        "index_type": "HNSW",
        "index_name": "",
        "metric_type": "MAX_SIM_IP",
        "M": 16,
        "efConstruction": 200,
    }


def test_rows_serialise_as_struct_arrays_of_the_token_vectors():
    layout = _native.NativeLayout(128)
    multi = np.random.default_rng(0).normal(size=(3, 128)).astype(np.float32)
    rows = [
        {
            "id": "a",
            "dense": np.zeros(64).tolist(),
            "payload": {"k": 1},
            **layout.token_fields(multi),
        }
    ]
    described = DescribedSchema(
        milvus_pb2.DescribeCollectionResponse(schema=_create_request_schema())
    ).dict()
    request = Prepare.row_upsert_param(
        "docs", rows, "", described["fields"], described["struct_array_fields"]
    )
    tokens = next(f for f in request.fields_data if f.field_name == "tokens")
    (sub,) = tokens.struct_arrays.fields
    (vectors,) = sub.vectors.vector_array.data
    assert vectors.dim == 128
    assert np.array_equal(np.asarray(vectors.float_vector.data, np.float32).reshape(3, 128), multi)
    # and back, as a query returns them
    returned = {"tokens": [{"vector": list(row)} for row in multi]}
    assert np.array_equal(layout.tokens_of(returned), multi)
    assert layout.tokens_of({"tokens": []}).shape == (0, 128)


def test_maxsim_search_is_an_embedding_list_query_with_max_sim_ip():
    query = np.random.default_rng(1).normal(size=(7, 128)).astype(np.float32)
    bound = Expression('payload["metadata"]["a"] == {univec_0}', {"univec_0": 1})
    request = _native.maxsim_request(query, 5, bound)
    assert request["anns_field"] == "tokens[vector]" and request["limit"] == 5
    assert request["output_fields"] == ["payload"]
    assert request["filter"] == bound.text and request["filter_params"] == {"univec_0": 1}
    assert request["search_params"] == {"metric_type": "MAX_SIM_IP", "params": {"ef": 128}}
    assert _native.maxsim_request(query, 500, None)["search_params"]["params"]["ef"] == 500
    (embedding_list,) = request["data"]
    assert len(embedding_list) == 7 and embedding_list.dim == 128
    # Serialised as MilvusClient.search does: one placeholder of an embedding list of floats.
    proto = Prepare.search_requests_with_expr(
        collection_name="docs",
        anns_field=request["anns_field"],
        param=request["search_params"],
        limit=request["limit"],
        data=[embedding_list.to_flat_array()],
        expr=request["filter"],
        expr_params=request["filter_params"],
        output_fields=request["output_fields"],
        is_embedding_list=True,
    )
    (placeholder,) = common_pb2.PlaceholderGroup.FromString(proto.placeholder_group).placeholders
    assert placeholder.type == common_pb2.PlaceholderType.EmbListFloatVector
    values = np.frombuffer(placeholder.values[0], np.float32)
    assert np.array_equal(values, query.ravel())
    params = {p.key: p.value for p in proto.search_params}
    assert params["anns_field"] == "tokens[vector]" and params["metric_type"] == "MAX_SIM_IP"


def test_hybrid_step_two_is_restricted_to_the_dense_candidates():
    assert _native.hybrid_filter(["a", "b"], None) == Expression('id in ["a", "b"]')
    bound = Expression("x == {p}", {"p": 1})
    assert _native.hybrid_filter(["a"], bound) == Expression(
        '(id in ["a"]) and (x == {p})', {"p": 1}
    )


# --------------------------------------------------------------------------- a real server
@pytest.fixture(scope="module")
def server_uri() -> str:
    uri = os.environ.get("UNIVEC_TEST_MILVUS_URI")
    if not uri:
        pytest.skip(
            "native layout on a server not tested: set UNIVEC_TEST_MILVUS_URI to a "
            "Milvus >= 2.6.4 (e.g. http://localhost:19530)"
        )
    from univec_milvus._detect import supports_native

    client = MilvusClient(uri, token=os.environ.get("UNIVEC_TEST_MILVUS_TOKEN", ""))
    version = client.get_server_version()
    client.close()
    if not supports_native(version):
        pytest.skip(f"native layout not tested: the server at {uri} is Milvus {version} (< 2.6.4)")
    return uri


@pytest.fixture
def native_collection(server_uri, tiny_encoder):
    name = f"univec_test_{uuid.uuid4().hex[:12]}"
    token = os.environ.get("UNIVEC_TEST_MILVUS_TOKEN")
    collection = MilvusCollection(name, tiny_encoder, uri=server_uri, token=token, progress=False)
    yield collection
    client = collection.engine.client
    client.drop_collection(name)
    collection.close()


def test_server_gets_the_native_layout_and_scores_maxsim(native_collection, tiny_encoder):
    assert native_collection.layout == "native"
    ids = native_collection.add(TEXTS, ids=list("abcde"), metadata=[{"i": i} for i in range(5)])
    query = "Where do cats sit?"
    query_multi = tiny_encoder.encode([query], "retrieval.query", multivector=True)[0]
    documents = tiny_encoder.encode(TEXTS, "retrieval.passage", multivector=True)
    exact = np.array([univec.maxsim(query_multi, d) for d in documents])
    for mode in ("multi", "hybrid"):
        hits = native_collection.search(query, k=5, mode=mode, candidates=5)
        assert [h.id for h in hits] == [ids[i] for i in np.argsort(-exact, kind="stable")]
        assert [h.score for h in hits] == pytest.approx(sorted(exact, reverse=True), abs=1e-4)
    hits = native_collection.search(query, k=5, mode="multi", filter={"i": [1, 3]})
    assert {h.id for h in hits} == {"b", "d"}
    (stored,) = native_collection.get(["c"], with_vectors=True)
    np.testing.assert_allclose(stored.multi, documents[2], atol=1e-6)
    native_collection.delete(["a"])
    assert len(native_collection) == 4


def test_server_splits_documents_longer_than_a_struct_array(native_collection, tiny_encoder):
    native_collection.max_part_tokens = 40
    long_text = " ".join(f"Sentence {i} talks about topic {i % 7}." for i in range(12))
    native_collection.add([long_text, *TEXTS], ids=["long", *"abcde"])
    assert native_collection.engine.count() > 6 and len(native_collection) == 6
    tokens = tiny_encoder.encode([long_text], "retrieval.passage", multivector=True)[0]
    exact = univec.maxsim(
        tiny_encoder.encode(["topic 3"], "retrieval.query", multivector=True)[0], tokens
    )
    hits = native_collection.search("topic 3", k=6, mode="multi")
    assert [h.id for h in hits].count("long") == 1
    assert next(h for h in hits if h.id == "long").score == pytest.approx(exact, abs=1e-4)
