"""Help reads no configuration file and writes nothing (in a child process, watched by an audit
hook)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# --- help reads no configuration file and writes nothing ---------------------------------------


def test_help_ignores_docutils_configuration_and_opens_only_package_data(tmp_path: Path) -> None:
    """docutils reads ./docutils.conf, ~/.docutils, /etc/docutils.conf and $DOCUTILSCONFIG, and a
    `warning_stream` there made rendering help truncate any file the server can write."""
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    conf = f"[general]\nwarning_stream: {victim}\nreport_level: 1\nhalt_level: 5\n"
    home = tmp_path / "home"
    home.mkdir()
    (home / ".docutils").write_text(conf)
    work = tmp_path / "work"
    work.mkdir()
    (work / "docutils.conf").write_text(conf)
    (tmp_path / "env.conf").write_text(conf)
    code = textwrap.dedent(
        """
        import os, sys, json
        import aws_mcp_server.adapter
        from aws_mcp_server.engine import Engine
        from aws_mcp_server.model import RunPlan
        from aws_mcp_server.settings import Settings
        engine = Engine(Settings(workdir=os.getcwd()))
        engine.run(RunPlan(("sts", "help"), is_help=True))  # imports and first loads
        opened = []
        sys.addaudithook(lambda e, a: opened.append(a[0]) if e == "open" else None)
        results = [
            engine.run(RunPlan(argv, is_help=True))
            for argv in (("sts", "help"), ("ec2", "describe-instances", "help"),
                         ("s3", "cp", "help"), ("help",))
        ]
        sys.addaudithook(lambda e, a: None)
        print(json.dumps({"ok": [r.ok for r in results], "sizes": [len(r.text) for r in results],
                          "opened": [str(p) for p in opened if isinstance(p, str)]}))
        """
    )
    env = {
        "PATH": os.environ.get("PATH", ""),
        "PYTHONPATH": str(ROOT),
        "HOME": str(home),
        "DOCUTILSCONFIG": str(tmp_path / "env.conf"),
        "AWS_CONFIG_FILE": str(tmp_path / "no-config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "no-credentials"),
    }
    proc = subprocess.run(
        [sys.executable, "-c", code], cwd=work, env=env, capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout.splitlines()[-1])
    assert report["ok"] == [True] * 4
    assert min(report["sizes"]) > 400
    assert victim.read_text() == "precious"
    import awscli
    import docutils

    allowed = (os.path.dirname(awscli.__file__), os.path.dirname(docutils.__file__))
    strays = [p for p in report["opened"] if not p.startswith(allowed)]
    assert strays == [], strays

