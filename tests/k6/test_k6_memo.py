"""k6's answers remembered per binary: the real k6 behind a wrapper that counts its calls."""

from __future__ import annotations

import os
import stat

import pytest

from orchestrator.k6 import memo as k6_memo
from orchestrator.errors import ConfigError
from orchestrator.k6.binary import find_k6

SCRIPT = 'export default function () {}\n'


@pytest.fixture
def counted_k6(tmp_path, monkeypatch):
    """(path of a k6 that logs each call, a function returning the calls so far)."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    calls = tmp_path / "calls"
    wrapper = tmp_path / "bin" / "k6"
    wrapper.parent.mkdir()
    wrapper.write_text(f'#!/bin/sh\necho "$1" >> {calls}\nexec {find_k6()} "$@"\n')
    wrapper.chmod(wrapper.stat().st_mode | stat.S_IXUSR)
    return str(wrapper), lambda: calls.read_text().split() if calls.exists() else []


def test_the_version_is_asked_once_per_binary_and_again_when_it_changes(counted_k6):
    binary, calls = counted_k6
    first = k6_memo.features(binary)
    assert k6_memo.features(binary) == first and first.version >= (1, 0, 0)
    assert calls() == ["version"]
    os.utime(binary, ns=(0, 0))  # a replaced binary: new mtime
    assert k6_memo.features(binary) == first
    assert calls() == ["version", "version"]


def test_an_accepted_script_is_not_inspected_again_a_changed_one_is(counted_k6):
    binary, calls = counted_k6
    k6_memo.inspect(binary, SCRIPT)
    k6_memo.inspect(binary, SCRIPT)
    assert calls() == ["inspect"]
    k6_memo.inspect(binary, SCRIPT + "// changed\n")
    assert calls() == ["inspect", "inspect"]


def test_a_rejected_script_is_rejected_every_time_with_k6s_words(counted_k6):
    binary, calls = counted_k6
    for _ in range(2):
        with pytest.raises(ConfigError, match="k6 inspect rejected"):
            k6_memo.inspect(binary, "export default function ( {\n")
    assert calls() == ["inspect", "inspect"]


def test_an_unwritable_cache_only_means_asking_k6_again(counted_k6, tmp_path, monkeypatch):
    binary, calls = counted_k6
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file where the cache directory would go")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocker))
    k6_memo.features(binary)
    k6_memo.features(binary)
    k6_memo.inspect(binary, SCRIPT)
    assert calls() == ["version", "version", "inspect"]
