"""`bench/run --only NAME --merge`: put freshly measured figures into the existing results.md and
results.json instead of replacing them, so one figure can be re-measured without re-running the
others (which takes ~12 minutes). Pure text and data: no I/O here."""

from __future__ import annotations

import re

from bench.results import render_markdown


def merge_markdown(existing: str, fresh: str, numbers: dict[str, int]) -> str:
    """`existing` results.md with the sections and summary rows of `fresh` (a render_markdown of
    some figures, numbered 1..n in the order of `numbers`) in place: each figure keeps its number
    from `numbers` (key -> number in the full list); a figure new to `existing` is appended."""
    ordered = list(numbers.values())
    fresh_sections = _sections(fresh)
    fresh_rows = _summary_rows(fresh)
    text = existing
    for position, number in enumerate(ordered, 1):
        section = fresh_sections.get(position)
        if section is None:
            continue
        section = re.sub(r"^## \d+\. ", f"## {number}. ", section, count=1)
        old = _sections(text).get(number)
        text = text.replace(old, section) if old is not None else text.rstrip("\n") + "\n\n" + section
        rows = [re.sub(r"^\| \d+ \|", f"| {number} |", row) for row in fresh_rows.get(position, [])]
        text = _replace_summary_rows(text, number, rows)
    return text if text.endswith("\n") else text + "\n"


def merge_json(existing: dict, fresh: dict) -> dict:
    """results.json with fresh figures replacing those of the same key (new ones appended)."""
    figures = list(existing.get("figures", []))
    for figure in fresh.get("figures", []):
        keys = [f.get("key") for f in figures]
        if figure["key"] in keys:
            figures[keys.index(figure["key"])] = figure
        else:
            figures.append(figure)
    return {**existing, "figures": figures}


def render_merged(existing_md: str, figures, machine: dict, invocation: str, numbers: dict[str, int]) -> str:
    """results.md with `figures` merged in; each merged section says when and how it was measured,
    since the file's header speaks for the run that wrote the rest."""
    fresh = render_markdown(figures, machine, invocation)
    stamp = f"Measured {machine.get('date')} with `{invocation}` (merged into this file).\n\n"
    fresh = re.sub(r"^(## \d+\. .*\n\n)", lambda m: m.group(1) + stamp, fresh, flags=re.M)
    return merge_markdown(existing_md, fresh, numbers)


def _sections(text: str) -> dict[int, str]:
    """`## N. title` sections (up to the next `## ` heading), by N."""
    found = {}
    matches = list(re.finditer(r"^## (\d+)\. .*$", text, re.M))
    for i, match in enumerate(matches):
        end = text.find("\n## ", match.end())
        end = len(text) if end < 0 else end + 1
        found[int(match.group(1))] = text[match.start():end].rstrip("\n") + "\n"
    return found


def _summary_rows(text: str) -> dict[int, list[str]]:
    rows: dict[int, list[str]] = {}
    for line in _summary_block(text):
        match = re.match(r"^\| (\d+) \|", line)
        if match:
            rows.setdefault(int(match.group(1)), []).append(line)
    return rows


def _summary_block(text: str) -> list[str]:
    start = text.find("## Summary")
    if start < 0:
        return []
    end = text.find("\n## ", start + 1)
    return text[start:end if end >= 0 else len(text)].splitlines()


def _replace_summary_rows(text: str, number: int, rows: list[str]) -> str:
    lines = text.split("\n")
    try:
        start = lines.index("## Summary")
    except ValueError:
        return text
    end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("## ")), len(lines))
    block = lines[start:end]
    kept = [line for line in block if not re.match(rf"^\| {number} \|", line)]
    table_rows = [i for i, line in enumerate(kept) if re.match(r"^\| \d+ \|", line)]
    # After the last row with a smaller number (the table stays in figure order).
    insert_at = max([i + 1 for i in table_rows if int(kept[i].split("|")[1]) < number], default=None)
    if insert_at is None:
        insert_at = table_rows[0] if table_rows else len(kept)
    kept[insert_at:insert_at] = rows
    return "\n".join(lines[:start] + kept + lines[end:])
