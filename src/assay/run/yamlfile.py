"""YAML with line numbers, so that an error in a spec can name the line it is on."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from assay.core import SpecError
from assay.data.readers import DataYamlLoader, YamlAliasBombError

Path_ = tuple[str | int, ...]


class LocatedYaml:
    """A parsed YAML document plus the 1-based line of every key and list item in it."""

    def __init__(self, data: Any, lines: dict[Path_, int], filename: str) -> None:
        self.data = data
        self.lines = lines
        self.filename = filename

    def where(self, path: Path_) -> str:
        """``file:line (dotted.path)`` for ``path``, or for its nearest located ancestor."""
        probe = tuple(path)
        while probe and probe not in self.lines:
            probe = probe[:-1]
        line = self.lines.get(probe, 1)
        dotted = format_path(path)
        return f"{self.filename}:{line}" + (f" ({dotted})" if dotted else "")


def format_path(path: Path_) -> str:
    """``subjects[0].model`` style text for a key path."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out


def _walk(node: yaml.Node, path: Path_, lines: dict[Path_, int], filename: str) -> None:
    lines.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        seen: dict[Any, int] = {}
        for key_node, value_node in node.value:
            key = key_node.value
            line = key_node.start_mark.line + 1
            if isinstance(key, str | int | float | bool) and key in seen:
                # PyYAML keeps the last value silently; a spec that says `name:` twice means
                # one of them by mistake.
                raise SpecError(
                    f"duplicate key {key!r} (first on line {seen[key]})",
                    where=f"{filename}:{line}" + (f" ({format_path(path)})" if path else ""),
                    fix="keep one of them",
                )
            if isinstance(key, str | int | float | bool):
                seen[key] = line
            child = (*path, key)
            lines[child] = line
            _walk(value_node, child, lines, filename)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            child = (*path, i)
            lines[child] = item.start_mark.line + 1
            _walk(item, child, lines, filename)


def parse_yaml(text: str, filename: str) -> LocatedYaml:
    """Parse one YAML document; syntax errors become a :class:`SpecError` at ``file:line``."""
    try:
        # One YAML dialect for specs and data files: YAML 1.2 booleans and integers, dates as
        # text (so `target: no` stays "no"); see DataYamlLoader.
        node = yaml.compose(text, Loader=DataYamlLoader)
        data = yaml.load(text, Loader=DataYamlLoader)
    except YamlAliasBombError as exc:
        line = exc.problem_mark.line + 1 if exc.problem_mark else 1
        raise SpecError(
            f"refused YAML: {exc.problem}",
            where=f"{filename}:{line}",
            fix="write the values out, or share fewer nested anchors (&name / *name)",
        ) from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 1
        problem = exc.problem or str(exc)
        raise SpecError(
            f"invalid YAML: {problem}",
            where=f"{filename}:{line}",
            fix="check indentation and quoting on that line (YAML needs spaces, not tabs)",
        ) from None
    except yaml.reader.ReaderError as exc:  # a control character, before any parsing
        line = text.count("\n", 0, max(exc.position, 0)) + 1
        raise SpecError(
            f"invalid YAML: control character #x{exc.character:04x} is not allowed",
            where=f"{filename}:{line}",
            fix="remove it (inside double quotes, write it as an escape such as \\x01)",
        ) from None
    except yaml.YAMLError as exc:
        raise SpecError(f"invalid YAML: {exc}", where=filename) from None
    except RecursionError:
        raise SpecError(
            "invalid YAML: nested too deeply", where=filename, fix="flatten the structure"
        ) from None
    lines: dict[Path_, int] = {}
    if node is not None:
        try:
            _walk(node, (), lines, filename)
        except RecursionError:
            raise SpecError(
                "invalid YAML: nested too deeply", where=filename, fix="flatten the structure"
            ) from None
    return LocatedYaml(data, lines, filename)


def load_yaml(path: str | Path) -> LocatedYaml:
    """Read and parse a YAML file, naming it in any error."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SpecError("file not found", where=str(path), fix="check the path") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise SpecError(f"cannot read file: {exc}", where=str(path)) from None
    return parse_yaml(text, str(path))
