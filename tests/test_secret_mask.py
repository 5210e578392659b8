"""The one rule for secret values, and the masking every output goes through."""

from __future__ import annotations

import base64
import json
import os
import stat
import subprocess
import sys
from pathlib import Path

from orchestrator.config.load import load_config
from orchestrator.k6.log_writer import started, wait_complete
from orchestrator.secret_mask import Masker, secret_values
from tests.conftest import write_config


def test_values_the_rule_calls_secret(tmp_path):
    path = write_config(tmp_path / "perfctl.yaml", """
        version: 1
        target:
          base_url: "http://svc:${SVC_PASS}@127.0.0.1:${PORT}"
          headers: {X-Api: "${PLAIN_NAME}"}
        prometheus: {url: "http://prom:literal-pw@127.0.0.1:9090"}
        scenarios:
          s: {vus: 1, duration: 1s, requests: [{name: a, path: /, headers: {X-Req: "Bearer ${REQ_CRED_VALUE}"},
                                                 json: {password: "${BODY_PW}"}}]}
        """)
    environ = {"SVC_PASS": "svc-password", "PORT": "28082", "PLAIN_NAME": "header-value", "REQ_CRED_VALUE": "req-token",
               "MY_API_TOKEN": "tok/en+=", "OTHER_URL": "https://bob:url-pw@h.example", "HOME": "/root", "SHORT_KEY": "ab", "BODY_PW": "body-password"}
    values = set(secret_values(load_config(path, environ=environ).config, environ))
    for secret in ("body-password", "svc-password", "header-value", "req-token", "tok/en+=", "tok%2Fen%2B%3D", "url-pw", "literal-pw"):
        assert secret in values, secret
    assert base64.b64encode(b"bob:url-pw").decode() in values
    assert "28082" not in values and "/root" not in values  # a port, a home: not secrets
    assert "ab" not in values  # too short to mask without shredding every line


def test_split_never_cuts_through_a_secret():
    masker = Masker(["s3cr3t-value"])
    out, keep = masker.split_bytes(b"line one s3cr3t-value\npartial s3cr", final=False)
    assert out == b"line one ***\n" and keep == b"partial s3cr"
    long = b"x" * 70000 + b"s3cr3t-value" + b"y" * 10
    out, keep = masker.split_bytes(long, final=False)
    # A line longer than the hold goes out in parts; the cut moves past the secret it would split.
    assert out == b"x" * 70000 + b"***" and keep == b"y" * 10
    out, keep = masker.split_bytes(b"x" * 70000 + b"s3cr3t-v", final=False)
    assert b"s3cr3t" not in out and keep.endswith(b"s3cr3t-v")  # maybe the start of one: held back


def test_log_writer_masks_before_the_bytes_land(tmp_path):
    log = tmp_path / "k6.log"
    secret = "pw-" + os.urandom(8).hex()
    with started(log, Masker([secret])) as sink:
        # A child writing in odd pieces, the secret split across two writes.
        child = subprocess.Popen(
            [sys.executable, "-c", "import sys,time\nfor p in sys.argv[1:]:\n sys.stdout.write(p); sys.stdout.flush(); time.sleep(0.05)",
             "GET /x?token=" + secret[:5], secret[5:] + "\n", "tail without newline " + secret],
            stdout=sink.fd)
        sink.close_write_end()
        child.wait(20)
        sink.wait()
    assert wait_complete(log, timeout=5)
    text = log.read_text()
    assert secret not in text and text == "GET /x?token=***\ntail without newline ***"
    assert stat.S_IMODE(log.stat().st_mode) == 0o600


def test_ledger_files_are_masked(tmp_path):
    from orchestrator import secret_mask
    from orchestrator.ledger.store import write_json

    secret = "v-" + os.urandom(8).hex()
    secret_mask.register(None, {"SOME_TOKEN": secret})
    write_json(tmp_path / "verdict.json", {"reason": f"GET http://h/x?t={secret} failed"})
    assert json.loads((tmp_path / "verdict.json").read_text())["reason"] == "GET http://h/x?t=*** failed"
    assert secret not in Path(tmp_path / "verdict.json").read_text()
