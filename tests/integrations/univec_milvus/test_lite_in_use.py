"""A Milvus Lite file held by another process: a clear error naming it (issue 12, item 19)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from univec.errors import CollectionError

pytest.importorskip("pymilvus")
pytest.importorskip("fcntl")

from univec_milvus import MilvusCollection

HOLDER = """
import sys
from pymilvus import MilvusClient
client = MilvusClient(sys.argv[1])
print("holding", flush=True)
sys.stdin.read()  # until the test closes our stdin
"""


def test_file_held_by_another_process(tmp_path, tiny_encoder):
    uri = str(tmp_path / "held.db")
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, uri],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "holding"
        with pytest.raises(CollectionError) as info:
            MilvusCollection("docs", tiny_encoder, uri=uri, progress=False)
        message = str(info.value)
        assert uri in message and "in use by another process" in message
    finally:
        holder.communicate(input="", timeout=60)
