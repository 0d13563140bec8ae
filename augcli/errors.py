"""The error vocabulary of augcli: exceptions, how a user value and an option are shown, "did you
mean", and the status a finished command reports.

Every error a user can cause is an ``AugcliError`` whose ``exit_code`` says its kind; the CLI
turns it (and a result's ``status``) into the process exit status in one place
(``augcli.cli.exit_status``). ``RecipeError`` and ``InputError`` are structured: they name where
the problem is, what was expected, what was given and, when one is close, the name meant.

Messages name a caller's options with :func:`option`: the library reads as its keywords
(``copies``, ``overwrite=True``), and the CLI spells the same message with its flags
(``--copies``, ``--overwrite``) through :func:`spell`.
"""

from __future__ import annotations

import difflib
import enum
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

SHOW_CHARS = 80  # longest rendering of a user value in an error message


def did_you_mean(word: object, options: Sequence[str]) -> str | None:
    """Return a ``did you mean 'x'?`` hint for a misspelt name, or None."""
    close = difflib.get_close_matches(str(word), list(options), n=1, cutoff=0.6)
    return f"did you mean '{close[0]}'?" if close else None


def show(value: Any) -> str:
    """Render a user value for an error message, cut to a readable length."""
    text = _render(value)
    return text if len(text) <= SHOW_CHARS else text[:SHOW_CHARS - 5] + "[...]"


def _render(value: Any) -> str:
    """Render a user value in full (lists item by item, stopping once long enough to be cut)."""
    if isinstance(value, str):
        return repr(value[:SHOW_CHARS + 1])
    if isinstance(value, list | tuple):
        parts, size = [], 0
        for item in value:
            parts.append(show(item))
            size += len(parts[-1]) + 2
            if size > SHOW_CHARS:
                break
        return "[" + ", ".join(parts) + "]"
    if value is None:
        return "nothing"
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 256:
        sign = "a negative" if value < 0 else "an"
        return f"{sign} integer of about {int(value.bit_length() * 0.30103)} digits"
    return str(value)


_MARK, _SEP = "\x1f", "\x1e"  # ASCII unit and record separators: never part of a message otherwise

Spelling = Callable[[str, str | None], str]  # (option keyword, its value as text or None) -> how it reads


def option(name: str, value: Any = None) -> str:
    """Name a caller's option (by its keyword) in a message, with the value to pass when there is one.

    Read through ``str(error)`` it is the keyword (``copies``, ``max_outputs=5000``, ``method='smote'``);
    a front end spells it its own way with :func:`spell`.
    """
    if value is None:
        return f"{_MARK}{name}{_MARK}"
    return f"{_MARK}{name}{_SEP}{value!r}{_SEP}{value}{_MARK}"


def keyword(name: str, value: str | None) -> str:
    """The library's spelling of an option: the keyword, ``name=value`` when a value goes with it."""
    return name if value is None else f"{name}={value}"


def spell(text: str, spelling: Spelling = keyword) -> str:
    """The text with every :func:`option` mark spelled by ``spelling``; the keyword by default."""
    parts = text.split(_MARK)
    for i in range(1, len(parts), 2):
        name, *values = parts[i].split(_SEP)
        shown_value = None if not values else values[0] if spelling is keyword else values[1]
        parts[i] = spelling(name, shown_value)
    return "".join(parts)


class Status(enum.Enum):
    """How a command that ran to its end went; the CLI maps it to the exit status."""

    OK = "ok"
    FAILED = "failed"  # it finished, but not as asked (outputs that differ; unreadable inputs with strict)


@dataclass(frozen=True, slots=True, kw_only=True)
class Outcome:
    """What every API result carries: its status and, when it FAILED, why (``str(failure)`` names options
    by keyword; the CLI spells them as flags)."""

    status: Status = Status.OK
    failure: AugcliError | None = None


class AugcliError(Exception):
    """Base class of every error augcli reports to a user.

    ``exit_code`` declares the kind: 2 for a caller's mistake (usage, recipe, input), 1 for a run
    that could not finish; ``augcli.cli.exit_status`` turns it into the process exit status.
    """

    exit_code = 1

    def __str__(self) -> str:
        return spell(super().__str__())

    def spelled(self, spelling: Spelling) -> str:
        """The message with its options spelled by ``spelling`` (the CLI passes its flags)."""
        return spell(super().__str__(), spelling)


class _Located(AugcliError):
    """An error that says where, what was expected, what was given, and perhaps a hint.

    Renders as ``[file:line: ]where: expected …[, got …][; hint]``. Built with one argument only,
    the argument is the whole message (for errors that have no single place to name).
    """

    def __init__(
        self,
        where: str,
        expected: str | None = None,
        got: str | None = None,
        *,
        source: str | None = None,
        line: int | None = None,
        hint: str | None = None,
    ) -> None:
        self.where = where
        self.expected = expected
        self.got = got
        self.source = source
        self.line = line
        self.hint = hint
        super().__init__(self.message())

    def message(self) -> str:
        """Render as ``file:line: where: expected …, got … [; did you mean …]``."""
        loc = ""
        if self.source is not None:
            loc = f"{self.source}:{self.line}: " if self.line is not None else f"{self.source}: "
        text = f"{loc}{self.where}" if self.expected is None else f"{loc}{self.where}: expected {self.expected}"
        if self.got is not None:
            text += f", got {self.got}"
        if self.hint:
            text += f"; {self.hint}"
        return text

    def __reduce__(self) -> tuple[object, ...]:
        """Pickle with the keyword fields, so an error raised in a worker process reaches the parent whole."""
        return (_rebuild, (type(self), self.where, self.expected, self.got, self.source, self.line, self.hint))


def _rebuild(cls: type[_Located], where: str, expected: str | None, got: str | None, source: str | None,
             line: int | None, hint: str | None) -> _Located:
    return cls(where, expected, got, source=source, line=line, hint=hint)


class RecipeError(_Located):
    """A recipe (or an option standing in for one) is not valid."""

    exit_code = 2
    expected: str

    def located(self, source: str, line: int | None) -> RecipeError:
        """Return a copy that names the recipe file and line."""
        return RecipeError(
            self.where, self.expected, self.got, source=source,
            line=line if line is not None else self.line, hint=self.hint,
        )


class InputError(_Located):
    """The input or output folders, or an option, cannot be used as given."""

    exit_code = 2


class RunError(AugcliError):
    """A run started but could not finish."""

    exit_code = 1
