"""Reading perfctl.yaml within limits: the file, then its YAML.

Whatever `-c` names is read as a regular file of at most MAX_CONFIG_BYTES (a FIFO would
block forever, /dev/zero would fill memory), and its YAML is refused when it nests deeper
than MAX_NESTING, holds more than MAX_YAML_NODES nodes once its aliases are expanded (a
453-byte alias "bomb" is ten million), or repeats a key (YAML lets the last one win
silently). Every refusal is a ConfigError naming the file and, where there is one, the line.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any

from orchestrator.errors import ConfigError
from orchestrator.config.limits import MAX_CONFIG_BYTES, MAX_CONFIG_TEXT, MAX_NESTING, MAX_YAML_NODES

INIT_HINT = "create one with `perfctl init` (or `perfctl init --example demo`)"


def read_config_bytes(path: Path) -> bytes:
    """The bytes of perfctl.yaml: a regular file of at most MAX_CONFIG_BYTES."""
    return read_regular_file(path, limit=MAX_CONFIG_BYTES, limit_text=MAX_CONFIG_TEXT, hint=INIT_HINT)


def read_data_text(path: Path, *, label: str) -> str:
    """A file the run reads besides perfctl.yaml (a data pool, a --script): a regular file
    within the data-file cap, as UTF-8 text; ConfigError (exit 2) naming `label` otherwise."""
    from orchestrator.config.limits import MAX_DATA_FILE_BYTES, MAX_DATA_FILE_TEXT

    raw = read_regular_file(path, limit=MAX_DATA_FILE_BYTES, limit_text=MAX_DATA_FILE_TEXT, label=label)
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{label}: cannot read it as UTF-8 text ({exc})") from None


def read_regular_file(path: Path, *, limit: int, limit_text: str, label: str | None = None,
                      hint: str | None = None) -> bytes:
    """The bytes of a regular file of at most `limit` bytes; ConfigError (exit 2) naming
    `label` (default: the path) for anything else: missing, a folder, a FIFO, a device, too big."""
    label = label or str(path)
    try:
        # O_NONBLOCK: opening a FIFO with no writer returns at once instead of waiting for one.
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        raise ConfigError(f"{label}: no such file", hint=hint) from None
    except IsADirectoryError:
        raise ConfigError(f"{label}: is a folder, not a file", hint=hint) from None
    except OSError as exc:
        raise ConfigError(f"{label}: cannot read ({exc.strerror})") from None
    try:
        info = os.fstat(fd)
        if stat.S_ISDIR(info.st_mode):
            raise ConfigError(f"{label}: is a folder, not a file", hint=hint)
        if not stat.S_ISREG(info.st_mode):
            raise ConfigError(f"{label}: not a regular file (a device, pipe or socket)", hint=hint)
        if info.st_size > limit:
            raise ConfigError(_too_big(label, info.st_size, limit_text))
        os.set_blocking(fd, True)
        chunks, total = [], 0
        while True:
            chunk = os.read(fd, 65536)
            if not chunk:
                break
            total += len(chunk)
            if total > limit:  # grew while being read
                raise ConfigError(_too_big(label, total, limit_text))
            chunks.append(chunk)
        return b"".join(chunks)
    except OSError as exc:
        raise ConfigError(f"{label}: cannot read ({exc.strerror})") from None
    finally:
        os.close(fd)


def _too_big(label: str, size: int, limit_text: str) -> str:
    return f"{label}: {size:,} bytes is more than it may hold ({limit_text}); is it the right file?"


def parse_yaml(path: Path, raw: bytes) -> Any:
    """The YAML document in `raw` as plain data, within the limits above."""
    import yaml

    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not UTF-8 text") from None
    # libyaml's loader when PyYAML has it: the same safe subset, ~5x faster (bench/, figure 1).
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)(text)
    try:
        node = loader.get_single_node()  # the node graph: aliases are still shared, not copied
        if node is not None:
            _check_tree(path, node)
        data = loader.construct_document(node) if node is not None else None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError(f"{path}: invalid YAML{where}: {problem}") from None
    except RecursionError:
        raise ConfigError(f"{path}: nested deeper than {MAX_NESTING} levels") from None
    finally:
        loader.dispose()
    if data is None:
        raise ConfigError(f"{path}: the file is empty", hint="start from `perfctl init`")
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: the top level must be a mapping (scenarios:, objectives:, ...)")
    return data


def _children(node) -> list:
    import yaml

    if isinstance(node, yaml.MappingNode):
        return [child for pair in node.value for child in pair]
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    return []


def _check_tree(path: Path, root) -> None:
    """Nesting depth, size with aliases expanded, and duplicate keys, without recursion
    (a deep document must not exhaust Python's stack before it is refused)."""
    import yaml

    expanded: dict[int, int] = {}  # id(node) -> nodes under it, aliases counted each time
    # Iterative post-order walk; a shared (aliased) node is walked once and counted per use.
    stack: list[tuple[Any, int, bool]] = [(root, 1, False)]
    on_path: set[int] = set()
    while stack:
        node, depth, done = stack.pop()
        if done:
            on_path.discard(id(node))
            size = 1 + sum(expanded[id(child)] for child in _children(node))
            if size > MAX_YAML_NODES:
                raise ConfigError(
                    f"{path}: more than {MAX_YAML_NODES:,} values once its aliases (*name) are expanded "
                    f"(line {node.start_mark.line + 1}); a config needs far fewer"
                )
            expanded[id(node)] = size
            continue
        if id(node) in expanded:
            continue
        if id(node) in on_path:  # a recursive alias: PyYAML builds a cyclic object from it
            raise ConfigError(f"{path}: line {node.start_mark.line + 1}: an alias refers to its own parent")
        if depth > MAX_NESTING:
            raise ConfigError(f"{path}: line {node.start_mark.line + 1}: nested deeper than {MAX_NESTING} levels")
        if isinstance(node, yaml.MappingNode):
            _check_duplicate_keys(path, node)
        on_path.add(id(node))
        stack.append((node, depth, True))
        for child in _children(node):
            if id(child) not in expanded:
                stack.append((child, depth + 1, False))


def _check_duplicate_keys(path: Path, node) -> None:
    import yaml

    seen: dict[tuple[str, str], int] = {}
    for key, _value in node.value:
        if not isinstance(key, yaml.ScalarNode) or key.tag == "tag:yaml.org,2002:merge":
            continue  # `<<: *defaults` may be overridden key by key: that is what it is for
        line = key.start_mark.line + 1
        if (key.tag, key.value) in seen:
            raise ConfigError(
                f"{path}: key '{key.value}' appears twice in one mapping (lines {seen[(key.tag, key.value)]} and {line}); "
                "YAML would keep only the last: remove one"
            )
        seen[(key.tag, key.value)] = line
