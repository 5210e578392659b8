"""Rendered scripts kept by their inputs (orchestrator/render/memo.py): from an empty cache the
first render stores the text, a new process with the same inputs gets the same text without
importing Jinja2, any change of inputs renders anew, and a cache others can write is not read."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from orchestrator.config.load import load_config
from orchestrator.k6.features import K6Features
from orchestrator.render import memo
from orchestrator.render.script import Overrides, render_scenario
from tests.render.test_render import SIMPLE, write_config

V1_1 = K6Features((1, 1, 0))
RENDER_IN_A_NEW_PROCESS = """
import sys
from orchestrator.config.load import load_config
from orchestrator.k6.features import K6Features
from orchestrator.render.script import Overrides, render_scenario
text = render_scenario(load_config(sys.argv[1], environ={}), "s", K6Features((1, 1, 0)),
                       Overrides(duration=float(sys.argv[2]))).text
sys.stdout.write(("jinja2 imported\\n" if "jinja2" in sys.modules else "jinja2 not imported\\n") + text)
"""


def _render_elsewhere(config: Path, duration: float, cache: Path) -> tuple[str, str]:
    done = subprocess.run([sys.executable, "-c", RENDER_IN_A_NEW_PROCESS, str(config), str(duration)],
                          env={**os.environ, "XDG_CACHE_HOME": str(cache)}, capture_output=True, text=True, check=True)
    said, _, text = done.stdout.partition("\n")
    return said, text


def test_a_repeated_render_takes_the_kept_text_without_jinja2(tmp_path):
    config = write_config(tmp_path, SIMPLE)
    cache = tmp_path / "cache"  # nothing there: a fresh machine
    said, first = _render_elsewhere(config, 7.0, cache)
    assert said == "jinja2 imported"
    kept = list((cache / "perfctl" / "scripts").iterdir())
    assert len(kept) == 1 and kept[0].read_text() == first
    said, again = _render_elsewhere(config, 7.0, cache)
    assert said == "jinja2 not imported" and again == first
    assert r"\"duration\": \"7s\"" in first


def test_changed_inputs_render_anew(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    loaded = load_config(write_config(tmp_path, SIMPLE), environ={})
    short = render_scenario(loaded, "s", V1_1, Overrides(duration=3.0)).text
    longer = render_scenario(loaded, "s", V1_1, Overrides(duration=9.0)).text
    assert short != longer and r"\"duration\": \"9s\"" in longer and r"\"duration\": \"3s\"" in short
    newer_k6 = render_scenario(loaded, "s", K6Features((1, 6, 0)), Overrides(duration=3.0)).text
    assert "for k6 v1.6.0" in newer_k6 and "for k6 v1.1.0" in short
    assert len(list((tmp_path / "cache" / "perfctl" / "scripts").iterdir())) == 3


def test_a_cache_others_can_write_is_not_read(tmp_path, monkeypatch):
    loaded = load_config(write_config(tmp_path, SIMPLE), environ={})
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "own"))
    honest = render_scenario(loaded, "s", V1_1).text
    (name,) = [p.name for p in (tmp_path / "own" / "perfctl" / "scripts").iterdir()]
    # The same file name in a folder anyone can write to, holding someone else's code.
    shared = tmp_path / "shared" / "perfctl" / "scripts"
    shared.mkdir(parents=True)
    shared.chmod(0o777)
    (shared / name).write_text("export default function () { /* someone else's code */ }\n")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "shared"))
    assert render_scenario(loaded, "s", V1_1).text == honest
    assert [p.name for p in shared.iterdir()] == [name]  # and nothing stored there


def test_only_the_newest_are_kept(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setattr(memo, "KEPT", 2)
    loaded = load_config(write_config(tmp_path, SIMPLE), environ={})
    for seconds in (1.0, 2.0, 3.0):
        render_scenario(loaded, "s", V1_1, Overrides(duration=seconds))
    assert len(list((tmp_path / "cache" / "perfctl" / "scripts").iterdir())) == 2
