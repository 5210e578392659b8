"""orchestrator/user_cache.py: the cache folder follows XDG_CACHE_HOME, else ~/.cache."""

from __future__ import annotations

from pathlib import Path

from orchestrator.user_cache import cache_dir


def test_xdg_cache_home_wins(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert cache_dir() == tmp_path / "xdg" / "perfctl"


def test_without_xdg_it_is_under_home(monkeypatch, tmp_path):
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert cache_dir() == tmp_path / "home" / ".cache" / "perfctl"


def test_an_empty_xdg_cache_home_counts_as_unset(monkeypatch, tmp_path):
    # The XDG spec: an empty value is treated as not set (not as the current folder).
    monkeypatch.setenv("XDG_CACHE_HOME", "")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert cache_dir() == tmp_path / "home" / ".cache" / "perfctl"
    assert cache_dir() != Path("perfctl")
