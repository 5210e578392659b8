"""orchestrator/config/source.py on real files: only a regular file within its cap is read
(a FIFO, a device, a folder are refused at once), and YAML that nests too deep, expands past
the node cap, refers to itself or repeats a key is refused with the file and line named."""

from __future__ import annotations

import os
import threading

import pytest

from orchestrator.config.limits import MAX_CONFIG_BYTES, MAX_NESTING, MAX_YAML_NODES
from orchestrator.config.source import parse_yaml, read_config_bytes, read_data_text, read_regular_file
from orchestrator.errors import ConfigError, ExitCode


def test_a_regular_file_is_read_whole(tmp_path):
    path = tmp_path / "perfctl.yaml"
    data = b"x: 1\n" * 30000  # more than one 64 KiB read
    path.write_bytes(data)
    assert read_config_bytes(path) == data


def test_missing_file_names_it_and_says_how_to_make_one(tmp_path):
    with pytest.raises(ConfigError) as caught:
        read_config_bytes(tmp_path / "perfctl.yaml")
    assert caught.value.message == f"{tmp_path / 'perfctl.yaml'}: no such file"
    assert "perfctl init" in caught.value.hint
    assert caught.value.exit_code == ExitCode.USAGE


def test_a_folder_is_not_a_file(tmp_path):
    with pytest.raises(ConfigError, match="is a folder, not a file"):
        read_config_bytes(tmp_path)


def test_a_fifo_without_writer_is_refused_at_once(tmp_path):
    fifo = tmp_path / "pipe.yaml"
    os.mkfifo(fifo)
    result: list = []
    # On a thread so that a regression (blocking open) fails the test instead of hanging it.
    worker = threading.Thread(target=lambda: result.append(_refusal(fifo)), daemon=True)
    worker.start()
    worker.join(10)
    assert result, "reading a FIFO blocked"
    assert "not a regular file" in result[0]


def _refusal(path) -> str:
    try:
        read_config_bytes(path)
    except ConfigError as exc:
        return exc.message
    return "read"


def test_a_device_is_refused_without_reading_it():
    with pytest.raises(ConfigError, match="/dev/zero: not a regular file"):
        read_config_bytes(os.fspath("/dev/zero"))


def test_the_size_cap_is_inclusive(tmp_path):
    path = tmp_path / "big.yaml"
    path.write_bytes(b"#" * MAX_CONFIG_BYTES)
    assert len(read_config_bytes(path)) == MAX_CONFIG_BYTES
    path.write_bytes(b"#" * (MAX_CONFIG_BYTES + 1))
    with pytest.raises(ConfigError) as caught:
        read_config_bytes(path)
    assert f"{MAX_CONFIG_BYTES + 1:,} bytes is more than it may hold (1 MiB)" in caught.value.message


def test_a_custom_label_names_the_file_in_its_messages(tmp_path):
    with pytest.raises(ConfigError) as caught:
        read_regular_file(tmp_path / "x.csv", limit=10, limit_text="10 B", label="scenarios.s.data.users")
    assert caught.value.message == "scenarios.s.data.users: no such file"
    path = tmp_path / "x.csv"
    path.write_bytes(b"12345678901")
    with pytest.raises(ConfigError, match=r"^scenarios.s.data.users: 11 bytes is more than it may hold \(10 B\)"):
        read_regular_file(path, limit=10, limit_text="10 B", label="scenarios.s.data.users")


def test_data_text_is_utf8_or_refused_with_its_label(tmp_path):
    path = tmp_path / "users.csv"
    path.write_text("name\nzoë\n", encoding="utf-8")
    assert read_data_text(path, label="--script") == "name\nzoë\n"
    path.write_bytes(b"name\n\xff\xfe\n")
    with pytest.raises(ConfigError, match=r"^--script: cannot read it as UTF-8 text"):
        read_data_text(path, label="--script")


# ---- parse_yaml ------------------------------------------------------------------------------


def parse(text: str, path="perfctl.yaml"):
    return parse_yaml(path, text.encode())


def test_a_mapping_is_returned_as_plain_data():
    assert parse("a: 1\nb: [x, {c: true}]\n") == {"a": 1, "b": ["x", {"c": True}]}


@pytest.mark.parametrize("text, message", [
    ("", "the file is empty"),
    ("# only a comment\n", "the file is empty"),
    ("- a\n- b\n", "the top level must be a mapping"),
    ("just text\n", "the top level must be a mapping"),
])
def test_empty_or_not_a_mapping(text, message):
    with pytest.raises(ConfigError, match=message):
        parse(text)


def test_invalid_yaml_names_line_and_column():
    with pytest.raises(ConfigError) as caught:
        parse("a: 1\nb: [unclosed\nc: 2\n")
    assert caught.value.message.startswith("perfctl.yaml: invalid YAML (line ")
    assert "column" in caught.value.message


def test_not_utf8():
    with pytest.raises(ConfigError, match="perfctl.yaml: not UTF-8 text"):
        parse_yaml("perfctl.yaml", b"a: \xff\n")


def test_a_repeated_key_is_refused_with_both_lines():
    with pytest.raises(ConfigError) as caught:
        parse("target:\n  base_url: http://a\nscenarios: {}\ntarget:\n  base_url: http://b\n")
    assert "key 'target' appears twice in one mapping (lines 1 and 4)" in caught.value.message


def test_the_same_key_in_different_mappings_is_fine():
    assert parse("a: {name: x}\nb: {name: y}\n") == {"a": {"name": "x"}, "b": {"name": "y"}}


def test_a_merge_key_may_be_overridden_key_by_key():
    text = "defaults: &d {vus: 1, duration: 10s}\nmain:\n  <<: *d\n  vus: 5\n"
    assert parse(text)["main"] == {"vus": 5, "duration": "10s"}


def test_nesting_up_to_the_limit_loads_and_one_deeper_is_refused():
    def nested(levels: int) -> str:  # `levels` mappings inside each other, flow style
        return "{a: " * levels + "1" + "}" * levels

    # Every node is a level, the leaf value too: the top mapping is 1, the innermost `1` is levels + 2.
    assert parse("top: " + nested(MAX_NESTING - 2)) is not None
    with pytest.raises(ConfigError, match=f"perfctl.yaml: line 1: nested deeper than {MAX_NESTING} levels"):
        parse("top: " + nested(MAX_NESTING - 1))


def test_a_very_deep_document_is_refused_without_exhausting_the_stack():
    # libyaml stops it itself (its own depth cap), the pure-Python parser reaches the walk: either way
    # one ConfigError, never a RecursionError or a crash.
    with pytest.raises(ConfigError, match="nested deeper than|exceeded maximum nesting depth"):
        parse("top: " + "[" * 50000 + "]" * 50000)


def test_an_alias_bomb_is_refused_before_it_is_built():
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    for i in range(1, 9):
        lines.append(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]")
    with pytest.raises(ConfigError) as caught:
        parse("\n".join(lines) + "\n")
    assert f"more than {MAX_YAML_NODES:,} values once its aliases (*name) are expanded" in caught.value.message


def test_shared_aliases_within_the_cap_load():
    text = "a: &a [1, 2, 3]\nb: *a\nc: *a\n"
    assert parse(text) == {"a": [1, 2, 3], "b": [1, 2, 3], "c": [1, 2, 3]}


def test_an_alias_to_its_own_parent_is_refused():
    with pytest.raises(ConfigError, match="an alias refers to its own parent"):
        parse("a: &loop\n  b: *loop\n")
