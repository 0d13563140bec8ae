"""Exceptions raised by augcli. The CLI maps them to exit statuses in one place."""

from __future__ import annotations


class AugcliError(Exception):
    """Base class of every error augcli reports to a user."""

    exit_code = 1


class RecipeError(AugcliError):
    """A recipe (or an option standing in for one) is not valid."""

    exit_code = 2

    def __init__(
        self,
        where: str,
        expected: str,
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
        text = f"{loc}{self.where}: expected {self.expected}"
        if self.got is not None:
            text += f", got {self.got}"
        if self.hint:
            text += f"; {self.hint}"
        return text

    def __reduce__(self) -> tuple[object, ...]:
        """Pickle with the keyword fields, so an error raised in a worker process reaches the parent whole."""
        return (_rebuild_recipe_error, (self.where, self.expected, self.got, self.source, self.line, self.hint))

    def located(self, source: str, line: int | None) -> RecipeError:
        """Return a copy that names the recipe file and line."""
        return RecipeError(
            self.where, self.expected, self.got, source=source,
            line=line if line is not None else self.line, hint=self.hint,
        )


def _rebuild_recipe_error(where: str, expected: str, got: str | None, source: str | None, line: int | None,
                          hint: str | None) -> RecipeError:
    return RecipeError(where, expected, got, source=source, line=line, hint=hint)


class InputError(AugcliError):
    """The input or output folders, or an option, cannot be used as given."""

    exit_code = 2


class RunError(AugcliError):
    """A run started but could not finish."""

    exit_code = 1
