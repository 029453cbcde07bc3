"""The command line and the server add nothing to ``import univec``; ``univec --help`` is light."""

from __future__ import annotations

import json
import subprocess
import sys

SERVER_AND_CLI = ["click", "fastapi", "uvicorn", "starlette", "pyarrow"]
HEAVY = ["torch", "transformers", "fastapi", "uvicorn", "qdrant_edge", "pymilvus", "pyarrow"]


def loaded_after(code: str, names: list[str]) -> list[str]:
    script = f"{code}\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))"
    output = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    ).stdout
    modules = json.loads(output.strip().splitlines()[-1])
    return [name for name in names if name in modules]


def test_import_univec_loads_no_cli_or_server_library():
    assert loaded_after("import univec", SERVER_AND_CLI) == []


def test_the_command_line_loads_no_model_database_or_web_server_until_a_command_runs():
    code = "import univec.cli, univec.cli.commands, univec.cli.options"
    assert loaded_after(code, HEAVY) == []
