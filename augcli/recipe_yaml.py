"""Recipe YAML read safely: untrusted text composed with limits, every node's line kept.

PyYAML's safe loader is guarded while it composes: aliases count what they expand to (no "billion
laughs"), nesting is bounded before anything recurses, and a value Python cannot read is a YAML
error. Each node's line is recorded under the dotted path validation reports (``pipeline[1].rotate``),
so :mod:`augcli.recipe` can place an error on its line. Nothing here knows what a recipe means.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import yaml
from yaml.composer import Composer
from yaml.constructor import SafeConstructor
from yaml.parser import Parser
from yaml.reader import Reader
from yaml.resolver import Resolver
from yaml.scanner import Scanner

from augcli.errors import RecipeError

# Limits on untrusted recipe text (docs/trust.md): checked while the YAML is read, before PyYAML recurses.
MAX_CHARS = 256 * 1024  # characters of recipe text (the packaged recipes have under 1,100)
MAX_NODES = 10_000  # YAML nodes once aliases are expanded (stops "billion laughs")
MAX_DEPTH = 50  # nesting of lists and mappings, aliases expanded
MAX_PATH = 1_000  # characters of a step path whose line is recorded (longer ones use their parent's line)


def load_yaml(text: str, source: str) -> tuple[Any, dict[str, int]]:
    """The data in a recipe's YAML text and the line of each dotted path, within the limits.

    Raises:
        RecipeError: for text past a limit or invalid YAML, at its line.
    """
    if len(text) > MAX_CHARS:
        raise RecipeError("recipe", f"at most {MAX_CHARS} characters of YAML", "more", source=source)
    _check_flow_depth(text, source)
    return _compose(text, source)


def _check_flow_depth(text: str, source: str) -> None:
    """Refuse ``[[[[...`` deeper than MAX_DEPTH before PyYAML, whose scanner slows down on deep flow nesting.

    Brackets are counted without parsing (a bracket in a quoted string counts too), so this only
    catches the blatant case quickly; :class:`_Loader` checks the real nesting.
    """
    try:
        data = np.frombuffer(text.encode("utf-8"), dtype=np.uint8)
    except UnicodeEncodeError as exc:  # only from parse_recipe(str): a file is decoded strictly
        raise RecipeError("recipe", "text that UTF-8 can encode", f"an unpaired surrogate at character {exc.start}",
                          source=source, line=text.count("\n", 0, exc.start) + 1) from None
    opens = (data == ord("[")) | (data == ord("{"))
    if int(opens.sum()) <= MAX_DEPTH:
        return
    depth = np.cumsum(opens.astype(np.int32) - ((data == ord("]")) | (data == ord("}"))))
    deep = np.flatnonzero(depth > MAX_DEPTH)
    if deep.size:
        line = int(np.count_nonzero(data[:deep[0]] == ord("\n"))) + 1
        raise RecipeError("recipe", f"lists and mappings nested at most {MAX_DEPTH} deep", "deeper nesting",
                          source=source, line=line)


def _compose(text: str, source: str) -> tuple[Any, dict[str, int]]:
    """Compose YAML keeping each node's line, keyed by the dotted path validation reports."""
    loader = _Loader(text, source)
    try:
        node = loader.get_single_node()
        lines: dict[str, int] = {}
        if node is not None:
            _walk(node, "", lines, loader, source)
        data = loader.construct_document(node) if node is not None else None
    except yaml.YAMLError as exc:
        raise _yaml_error(exc, text, source) from None
    except RecursionError:  # a last resort: _Loader stops nesting long before Python's limit
        raise RecipeError("recipe", f"lists and mappings nested at most {MAX_DEPTH} deep", "deeper nesting",
                          source=source) from None
    finally:
        loader.dispose()
    return data, lines


def _yaml_error(exc: yaml.YAMLError, text: str, source: str) -> RecipeError:
    """A PyYAML error as a RecipeError at its line."""
    mark = getattr(exc, "problem_mark", None)
    line = mark.line + 1 if mark else None
    problem = getattr(exc, "problem", None)
    if isinstance(exc, yaml.reader.ReaderError):  # a character YAML does not allow: no mark, a position
        line = text.count("\n", 0, exc.position) + 1
        char = exc.character
        problem = f"{exc.reason} (character {f'#x{char:04x}' if isinstance(char, int) else repr(char)})"
    return RecipeError("recipe", "valid YAML", problem or str(exc), source=source, line=line)


class _PyParser(Reader, Scanner, Parser):
    """PyYAML's pure-Python reader, scanner and parser (when it was built without libyaml)."""

    def __init__(self, stream: str) -> None:
        Reader.__init__(self, stream)
        Scanner.__init__(self)
        Parser.__init__(self)


try:  # libyaml scans and parses about five times faster; composing stays in Python, where it is guarded
    from yaml.cyaml import CParser as _Parser
except ImportError:  # pragma: no cover - PyYAML without libyaml
    _Parser = _PyParser  # type: ignore[misc, assignment]


class _Loader(Composer, _Parser, SafeConstructor, Resolver):  # type: ignore[misc, valid-type]
    """A safe loader that refuses alias bombs, recursive aliases and deep nesting while it composes.

    A node's expanded size and height are known when it is finished, so an alias costs what it
    expands to, and the composer never recurses deeper than MAX_DEPTH.
    """

    def __init__(self, text: str, source: str) -> None:
        _Parser.__init__(self, text)
        Composer.__init__(self)
        SafeConstructor.__init__(self)
        Resolver.__init__(self)
        self.source = source
        self.level = 0  # nodes open above the one being composed
        self.open: set[str] = set()  # anchors whose node is still being composed
        self.sizes: dict[int, tuple[int, int]] = {}  # id(node) -> (expanded size, height)
        self.total = 0  # nodes composed so far, each alias counted as what it expands to

    def add(self, count: int, mark: Any, hint: str | None = None) -> None:
        """Count composed nodes; refuse the node that takes the document past MAX_NODES."""
        self.total += count
        if self.total > MAX_NODES:
            raise self.refuse(f"at most {MAX_NODES} YAML nodes once aliases are expanded",
                              f"{self.total} by this point", mark, hint=hint)

    def refuse(self, expected: str, got: str, mark: Any, hint: str | None = None) -> RecipeError:
        """A RecipeError at a YAML mark."""
        return RecipeError("recipe", expected, got, source=self.source, line=mark.line + 1, hint=hint)

    def too_deep(self, mark: Any) -> RecipeError:
        """The error for nesting beyond MAX_DEPTH."""
        return self.refuse(f"lists and mappings nested at most {MAX_DEPTH} deep (aliases expanded)",
                           "deeper nesting", mark)

    def compose_node(self, parent: Any, index: Any) -> Any:
        """Compose one node, refusing it before recursing when it would be too deep."""
        event = self.peek_event()
        if isinstance(event, yaml.AliasEvent):
            return self._alias(event, parent, index)
        if self.level >= MAX_DEPTH:
            raise self.too_deep(event.start_mark)
        anchor = event.anchor
        self.level += 1
        if anchor is not None:
            self.open.add(anchor)
        try:
            node = super().compose_node(parent, index)
        finally:
            self.level -= 1
            self.open.discard(anchor)
        self._measure(node)
        return node

    def _alias(self, event: Any, parent: Any, index: Any) -> Any:
        """An alias: refused inside its own anchor, or when what it expands to nests too deep."""
        if event.anchor in self.open:
            raise self.refuse("an alias to a finished anchor", f"*{event.anchor} inside &{event.anchor}",
                              event.start_mark, hint="a recursive alias never ends")
        node = super().compose_node(parent, index)
        size, height = self.sizes[id(node)]
        if self.level + height > MAX_DEPTH:
            raise self.too_deep(event.start_mark)
        self.add(size, event.start_mark, hint="aliases of aliases grow exponentially (a 'billion laughs' recipe)")
        return node

    def _measure(self, node: yaml.Node) -> None:
        """Record a finished node's expanded size and height, and count it."""
        children: list[yaml.Node] = []
        if isinstance(node, yaml.MappingNode):
            children = [part for pair in node.value for part in pair]
        elif isinstance(node, yaml.SequenceNode):
            children = node.value
        measured = [self.sizes[id(child)] for child in children]
        self.sizes[id(node)] = (1 + sum(s for s, _ in measured), 1 + max((h for _, h in measured), default=0))
        self.add(1, node.start_mark)

    def construct_object(self, node: Any, deep: bool = False) -> Any:
        """Construct a node; a value Python refuses (a 5,000-digit integer, month 13) is a YAML error here."""
        try:
            return super().construct_object(node, deep=deep)
        except (ValueError, TypeError, OverflowError) as exc:
            problem = f"a value that cannot be read ({str(exc).split(';')[0]})"
            raise yaml.constructor.ConstructorError(None, None, problem, node.start_mark) from None


def _walk(node: yaml.Node, path: str | None, lines: dict[str, int], loader: _Loader, source: str) -> None:
    """Record the line of every path below ``node`` and refuse duplicate keys.

    Paths longer than MAX_PATH are not recorded (None below them): an error there is placed at the
    line of the nearest recorded parent, and a long key repeated through aliases costs no memory.
    """
    if path is not None:
        lines.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        _walk_mapping(node, path, lines, loader, source)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _walk(item, _sub(path, f"[{i}]"), lines, loader, source)


def _sub(path: str | None, part: str) -> str | None:
    """``path`` + ``part`` (``[i]``, or ``.key`` with the dot left out at the top), or None past MAX_PATH."""
    if path is None or len(path) + len(part) > MAX_PATH:
        return None
    return part[1:] if not path and part.startswith(".") else path + part


def _walk_mapping(node: yaml.MappingNode, path: str | None, lines: dict[str, int], loader: _Loader,
                  source: str) -> None:
    """Walk a mapping's values; keys must be plain and given once (``<<`` merges are left to PyYAML)."""
    seen: set[Any] = set()
    for key_node, value_node in node.value:
        if key_node.tag == "tag:yaml.org,2002:merge":
            continue
        key = loader.construct_object(key_node)
        line = key_node.start_mark.line + 1
        try:
            hash(key)
        except TypeError:
            raise RecipeError(path or "recipe", "plain keys (names)", f"a {type(key).__name__} as a key",
                              source=source, line=line) from None
        sub = _sub(path, "." + str(key)[:MAX_PATH + 1])
        if key in seen:
            raise RecipeError(sub or path or "recipe", "each key once", "it twice", source=source, line=line)
        seen.add(key)
        if sub is not None:
            lines[sub] = line
        _walk(value_node, sub, lines, loader, source)


def line_for(where: str, lines: Mapping[str, int]) -> int | None:
    """The line of the longest known prefix of a dotted path."""
    while where:
        if where in lines:
            return lines[where]
        cut = max(where.rfind("."), where.rfind("["))
        where = where[:cut] if cut > 0 else ""
    return lines.get("")
