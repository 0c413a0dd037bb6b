"""The classification table: every command in tests/data/classification.jsonl through `decide`.

Each row is a claim: this command is a read / write / reject, decided by this rule, and (where the
row says `sensitive`) its read is or is not marked sensitive. Rules ending in `:` match any rule
with that prefix (`parse:` covers every tokenizer refusal).
"""

from __future__ import annotations

import io
import json
import os
import zipfile
from collections import Counter
from pathlib import Path

import pytest

from aws_mcp_server.decision import decide
from aws_mcp_server.settings import Settings

TABLE = Path(__file__).resolve().parents[1] / "data" / "classification.jsonl"
ROWS = [json.loads(line) for line in TABLE.read_text("utf-8").splitlines() if line.strip()]
CHANGE_BATCH = {
    "Changes": [
        {
            "Action": "UPSERT",
            "ResourceRecordSet": {
                "Name": "a.example.com",
                "Type": "A",
                "TTL": 60,
                "ResourceRecords": [{"Value": "192.0.2.1"}],
            },
        }
    ]
}


def _zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("index.py", "def handler(event, context):\n    return 1\n")
    return buffer.getvalue()


WORKDIR_FILES = {
    "f.zip": _zip(),
    "c.bin": b"ciphertext",
    "p.txt": b"passphrase",
    "batch.json": json.dumps(CHANGE_BATCH).encode(),
    "t.yaml": b"Resources: {}\n",
    "report.csv": b"a,b\n",
    "k.pem": b"not a key",
    "params.json": json.dumps({"Names": ["/app/db"], "WithDecryption": True}).encode(),
}


@pytest.fixture
def settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    # never the real ~/.aws, never a credential from the environment
    for name in list(os.environ):
        if name.startswith("AWS_"):
            monkeypatch.delenv(name)
    config = tmp_path / "config"
    config.write_text("[default]\n")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    workdir = tmp_path / "workdir"
    workdir.mkdir()
    for name, content in WORKDIR_FILES.items():
        (workdir / name).write_bytes(content)
    monkeypatch.chdir(tmp_path)
    return Settings(workdir=workdir)


def test_table_is_big_and_wide() -> None:
    services = Counter(row["command"].split()[0] for row in ROWS if row["command"].strip())
    assert len(ROWS) >= 200
    assert len(services) >= 25
    assert {row["verdict"] for row in ROWS} == {"read", "write", "reject"}


@pytest.mark.parametrize("row", ROWS, ids=[row["command"][:70] or "<empty>" for row in ROWS])
def test_command_classifies_as_table_says(row: dict[str, str], settings: Settings) -> None:
    decision = decide(row["command"], settings)
    expected_rule = row["rule"]
    got = f"{decision.verdict}/{decision.rule}: {decision.reason}"
    assert decision.verdict == row["verdict"], got
    if expected_rule.endswith(":"):
        assert decision.rule.startswith(expected_rule), got
    else:
        assert decision.rule == expected_rule, got
    assert decision.reason
    if "sensitive" in row:
        assert decision.sensitive is row["sensitive"], got
    if decision.verdict == "reject":
        assert decision.fix, f"a reject must say what to do instead: {got}"
