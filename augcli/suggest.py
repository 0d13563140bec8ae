"""``augcli suggest``: a recipe written for an input tree, with the evidence for every choice.

:func:`suggest` reads an evenly spaced subset of each class (at most :data:`PER_CLASS` images, on a
process pool), measures small copies of them (:mod:`augcli._suggest_stats`), applies the rules of
:mod:`augcli._suggest_rules` and returns a :class:`Suggestion`: the recipe as commented YAML
(``text``, which :func:`augcli.recipe.parse_recipe` loads), the same recipe as data (``data``) and
the evidence records (``findings``). The same tree gives the same text whatever ``workers`` is.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from augcli._suggest_rules import (
    TURNS,
    Choices,
    Finding,
    background,
    colour,
    orientation,
    size,
    text,
)
from augcli._suggest_stats import Job, Measure, measure_file, no_setup
from augcli.dataset import Problem, scan
from augcli.errors import InputError, Outcome, option
from augcli.io import DEFAULT_MAX_PIXELS, write_atomic
from augcli.paths import check_not_input
from augcli.pool import map_tasks
from augcli.recipe import parse_recipe

PER_CLASS = 200  # images read per class at most: a class mean and shares are stable well before that
_POOL_MIN = 32  # fewer images than this are read in this process
TEXT_DEGREES = 3  # rotation range of text-like classes (the packaged documents recipe's)


@dataclass(frozen=True, slots=True, kw_only=True)
class Suggestion(Outcome):
    """A suggested recipe: its commented YAML, its data, and the evidence for each choice."""

    text: str
    data: dict[str, Any]
    findings: tuple[Finding, ...]
    images: int  # image files in the tree
    read: int  # images measured
    unreadable: tuple[Problem, ...] = ()  # (path, reason) of files that could not be read
    problems: tuple[Problem, ...] = ()  # what the scan left out
    path: Path | None = None  # where the text was written, if it was
    classes: dict[str, list[str]] = field(default_factory=dict)  # class -> transforms left out for it


def suggest(input_root: str | Path, *, workers: int = 1, max_pixels: int | None = DEFAULT_MAX_PIXELS,
            progress: Callable[[int, int], None] | None = None) -> Suggestion:
    """Analyse an ImageFolder tree and write a recipe for it.

    Args:
        input_root: ImageFolder tree (one sub-folder per class).
        workers: processes reading images (the result does not depend on it).
        max_pixels: images whose header claims more pixels are skipped as unreadable; None: no limit.
        progress: called with (images just read, images to read).

    Returns:
        The recipe text and data, the findings, and what was read or skipped.

    Raises:
        InputError: the tree holds no class folder with an image, or no image could be read.
    """
    data = scan(input_root)
    jobs = [Job(data.root, s.rel, label, max_pixels) for label, sources in data.by_label().items()
            for s in _subset(sources)]
    measures, unreadable = _read(jobs, workers, progress)
    if not measures:
        first = f"; first: {unreadable[0][0]}: {unreadable[0][1]}" if unreadable else ""
        raise InputError(f"no readable images in {data.root}: {len(unreadable)} unreadable{first}")
    by_label: dict[str, list[Measure]] = {}
    for m in measures:
        by_label.setdefault(m.label, []).append(m)
    choices = Choices()
    findings = [*colour(measures, choices), *size(measures, choices), *background(measures, choices),
                *orientation(by_label, choices), *text(by_label, choices)]
    pipeline = _pipeline(choices, list(by_label))
    rules, unnamed = _class_rules(choices, {next(iter(step)) for step, _ in pipeline}, list(by_label))
    recipe: dict[str, Any] = _tidy({"seed": 0, "copies": 4, "output": {"format": "same", "quality": 95},
                                    "pipeline": [step for step, _ in pipeline]})
    if rules:
        recipe["classes"] = _tidy(rules)
    header = _header(len(data.sources), len(measures), len(unreadable),
                     [label for label in data.classes if label not in by_label])
    body = _render(recipe, header, findings, [note for _, note in pipeline], list(by_label), unnamed)
    parse_recipe(body, source="<suggested recipe>")  # a recipe that does not load is a bug: let it show
    return Suggestion(text=body, data=recipe, findings=tuple(findings), images=len(data.sources),
                      read=len(measures), unreadable=tuple(unreadable), problems=data.problems,
                      classes={label: list(rule["exclude"]) for label, rule in rules.items()})


def check_output(path: Path, input_root: Path, force: bool) -> None:
    """Refuse an output file inside the input tree, a folder, or an existing file without ``force``."""
    check_not_input(path, input_root, f"{option('output')} file")
    if path.is_dir():
        raise InputError(f"{option('output', str(path))}: expected a file name, got a folder")
    if (path.exists() or path.is_symlink()) and not force:
        raise InputError(f"{option('output', str(path))}: the file exists; pass {option('force')} to replace it")


def write(suggestion: Suggestion, path: Path) -> Suggestion:
    """Write the recipe text atomically; a path that cannot be written is an input error."""
    try:
        write_atomic(path, suggestion.text.encode("utf-8"))
    except OSError as exc:
        raise InputError(f"{option('output', str(path))}: expected a writable file, "
                         f"got {exc.strerror or exc}") from None
    return replace(suggestion, path=path)


def _subset(sources: Sequence[Any]) -> list[Any]:
    """At most PER_CLASS sources, evenly spaced over the sorted list (all when there are fewer)."""
    if len(sources) <= PER_CLASS:
        return list(sources)
    return [sources[i * len(sources) // PER_CLASS] for i in range(PER_CLASS)]


def _read(jobs: list[Job], workers: int, progress: Callable[[int, int], None] | None,
          ) -> tuple[list[Measure], list[Problem]]:
    """Measure every job's image on the pool; measures and failures in job order, whatever the workers."""
    done: dict[str, Measure | str] = {}
    for rel, result in map_tasks(measure_file, jobs, no_setup, None, workers if len(jobs) >= _POOL_MIN else 1):
        done[rel] = result
        if progress:
            progress(1, len(jobs))
    measures = [r for job in jobs if isinstance(r := done[job.rel], Measure)]
    return measures, [(job.rel, r) for job in jobs if isinstance(r := done[job.rel], str)]


# ---------------------------------------------------------------- the recipe


def _pipeline(c: Choices, labels: list[str]) -> list[tuple[dict[str, Any], str]]:
    """The pipeline's steps, each with its comment."""
    fill = {"border": c.border, **({"fill": c.fill} if c.border == "constant" else {})}
    steps: list[tuple[dict[str, Any], str]] = []
    if any(label not in c.flip_out and label not in c.text for label in labels):
        steps.append(({"hflip": {"p": 0.5}}, "left out for the classes that face one way: see classes"
                      if c.flip_out or c.text else "no class faces one way"))
    if c.turns and not c.all_text:
        steps.append(({"vflip": {"p": 0.5}}, "most class means are unchanged by it: see classes"))
        if c.square:
            steps.append(({"rot90": {"k": [0, 3]}}, "and by quarter turns (every image is square)"))
    degrees = TEXT_DEGREES if c.all_text else c.degrees
    steps.append(({"affine": {"degrees": [-degrees, degrees], "scale": [0.9, 1.1], "translate": [-0.05, 0.05],
                              **fill, "p": 0.6}}, f"border {c.border}: see background"))
    if len(c.tone) > 1:
        steps.append(({"one_of": {"p": 0.8, "of": c.tone}}, "one tone change: see background and colour"))
    elif c.tone:
        name, body = next(iter(c.tone[0].items()))
        steps.append(({name: {**body, "p": 0.8}}, "tone: see background"))
    noise = {"gaussian_noise": {"std": list(c.noise)}}
    if c.blur:
        steps.append(({"one_of": {"p": 0.25, "of": [{"gaussian_blur": {"sigma": list(c.blur)}}, noise]}},
                      "blur or noise: see size"))
    else:
        steps.append(({"gaussian_noise": {"std": list(c.noise), "p": 0.25}}, "noise, no blur: see size"))
    if c.dropout:
        steps.append(({"coarse_dropout": {"count": [1, 3], "size": list(c.dropout),
                                          "fill": c.fill if c.border == "constant" else 0, "p": 0.2}},
                      "holes the background's colour: see size" if c.border == "constant" else "see size"))
    return steps


def _class_rules(c: Choices, names: set[str], labels: list[str]) -> tuple[dict[str, dict[str, Any]], list[str]]:
    """``classes:`` entries (what each class leaves out, and text-like classes' own small rotation), and the
    classes that need one but whose folder name is not UTF-8, which no recipe can name."""
    rules: dict[str, dict[str, Any]] = {}
    unnamed: list[str] = []
    for label in labels:
        out = set()
        if label in c.flip_out:
            out.add("hflip")
        if label in c.turns_out:
            out.update(TURNS)
        if label in c.text and not c.all_text:
            out.update(("hflip", *TURNS, "affine"))
        out &= names
        if not out:
            continue
        rule: dict[str, Any] = {"exclude": sorted(out)}
        if "affine" in out:
            rule["pipeline"] = [{"affine": {"degrees": [-TEXT_DEGREES, TEXT_DEGREES], "scale": [0.95, 1.05],
                                            "translate": [-0.02, 0.02], "border": c.border,
                                            **({"fill": c.fill} if c.border == "constant" else {}), "p": 0.6}}]
        if _utf8(label):
            rules[label] = rule
        else:
            unnamed.append(label)
    return rules, unnamed


def _utf8(text: str) -> bool:
    """True when the text is valid UTF-8 (a folder name that is not arrives with lone surrogates)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


# ---------------------------------------------------------------- the text


def _header(images: int, read: int, unreadable: int, unseen: list[str]) -> list[str]:
    """The comment lines that open the recipe: what was read, and how to read the rest."""
    lines = [f"Recipe suggested by 'augcli suggest' from {images} images: {read} read (at most {PER_CLASS} per "
             "class, evenly spaced in file-name order)" + (f"; {unreadable} unreadable, skipped" if unreadable
                                                            else "") + ".",
             "Each choice names the measure it rests on and its threshold; docs/suggest.md explains the rules."]
    lines += [f"{_safe(label)}: no readable image, no rule for this class" for label in unseen]
    return lines


def _render(recipe: dict[str, Any], header: list[str], findings: list[Finding], notes: list[str],
            labels: list[str], unnamed: list[str]) -> str:
    """The recipe as YAML, every choice commented with its evidence."""
    lines = [f"# {line}" for line in header]
    lines += [f"# {_comment(f)}" for f in findings if f.label is None]
    lines += ["seed: 0", "copies: 4", f"output: {_flow(recipe['output'])}", "pipeline:"]
    for step, note in zip(recipe["pipeline"], notes, strict=True):
        lines += _step_lines(step, note)
    rules = recipe.get("classes", {})
    lines.append("classes:" if rules else "# classes: no class needs a rule of its own")
    for label in labels:
        evidence = "; ".join(_comment(f) for f in findings if f.label == label)
        if label in unnamed:
            evidence += " (no rule written: a recipe cannot name a class whose folder name is not UTF-8)"
        if label in rules:
            lines.append(_noted(f"  {json.dumps(label)}: {_flow(rules[label])}", evidence))
        else:
            lines.append(f"  # {evidence}")
    return "".join(line + "\n" for line in lines)


def _tidy(value: Any) -> Any:
    """Recipe data with whole floats as ints and tuples as lists: exactly what its YAML text reads back as."""
    if isinstance(value, dict):
        return {key: _tidy(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_tidy(item) for item in value]
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _step_lines(step: dict[str, Any], note: str) -> list[str]:
    """One pipeline step: a flow mapping on one line, or a one_of group in block style."""
    name, body = next(iter(step.items()))
    if name != "one_of":
        return [_noted(f"  - {name}: {_flow(body)}", note)]
    return [_noted("  - one_of:", note), f"      p: {_flow(body['p'])}", "      of:",
            *(f"        - {_flow_step(child)}" for child in body["of"])]


def _flow_step(step: dict[str, Any]) -> str:
    name, body = next(iter(step.items()))
    return f"{name}: {_flow(body)}"


def _noted(line: str, note: str) -> str:
    """A line with its comment, aligned."""
    return f"{line:<60}  # {note}" if note else line


_PLAIN = re.compile(r"[a-z][a-z_]*")
_YAML_WORDS = {"y", "n", "yes", "no", "on", "off", "true", "false", "null"}


def _flow(value: Any) -> str:
    """YAML flow text of recipe data: mappings, lists, numbers (never in exponent form) and names."""
    if isinstance(value, dict):
        return "{" + ", ".join(f"{key}: {_flow(item)}" for key, item in value.items()) + "}"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_flow(item) for item in value) + "]"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return _num(value)
    text = str(value)
    return text if _PLAIN.fullmatch(text) and text not in _YAML_WORDS else json.dumps(text)


def _num(value: float) -> str:
    """A number as the recipe shows it: integers without a point, others with up to 4 decimals."""
    if float(value).is_integer():
        return str(int(value))
    return f"{value:.4f}".rstrip("0")


def _comment(f: Finding) -> str:
    """A finding as a comment: where, what was measured, the threshold, what was decided."""
    where = _safe(f.label) if f.label is not None else f.rule
    limit = f" (threshold {_num(f.threshold)})" if f.threshold is not None else ""
    return f"{where}: {f.statistic} {_num(f.value)}{limit}: {f.decision}"


def _safe(text: str) -> str:
    """A name fit for a one-line comment: characters that are not printable (line breaks, bytes of a name
    that is not UTF-8) as escapes."""
    return "".join(c if c.isprintable() else f"\\x{ord(c):02x}" if ord(c) < 0x100 else f"\\u{ord(c):04x}"
                   for c in text)
