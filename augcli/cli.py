"""Command line: a thin click layer over ``augcli.api``.

Only click and the standard library are imported at the top, so ``augcli --help`` is fast;
each command imports the API inside its body. Errors are mapped to exit statuses here,
in one place: 2 for usage, recipe and input errors, 1 for a failed run.
"""

from __future__ import annotations

import functools
import signal
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from augcli import __version__

if TYPE_CHECKING:
    from augcli.api import BalanceResult, InspectResult, PreviewResult, ReplayResult, RunResult
    from augcli.suggest import Suggestion

F = Callable[..., Any]
RunResultT = TypeVar("RunResultT", bound="RunResult")


_ERRORS: dict[int, type[click.ClickException]] = {}


def cli_error(message: str, status: int) -> click.ClickException:
    """A user-facing error that click prints as ``Error: message`` and exits with ``status``.

    click declares ``exit_code`` on the class, so each status gets its own small subclass.
    """
    if status not in _ERRORS:
        _ERRORS[status] = type(f"CliError{status}", (click.ClickException,), {"exit_code": status})
    return _ERRORS[status](message)


NEGATED = {"allow_custom": "--no-custom", "originals": "--no-originals", "tta": "--no-tta"}  # keyword=False -> its flag


def flag(name: str, value: str | None) -> str:
    """The CLI's spelling of an API option a message names: ``--copies``, ``--max-outputs 5000``."""
    if value == "False" and name in NEGATED:
        return NEGATED[name]
    text = "--" + name.replace("_", "-")
    return text if value in (None, "True") else f"{text} {value}"


def exit_status(outcome: BaseException | Any) -> int:
    """The exit status of an error, or of a result by its status: the only place they are mapped.

    0 ok; 1 a failed run (a run error, a result FAILED, a system error); 2 a usage, recipe or input
    error; 130 interrupted (Ctrl-C), 143 terminated (SIGTERM).
    """
    from augcli.errors import AugcliError, Status
    from augcli.run import Interrupted

    if isinstance(outcome, Interrupted):
        return 130 if outcome.signal_name == "interrupted" else 143
    if isinstance(outcome, KeyboardInterrupt):
        return 130
    if isinstance(outcome, AugcliError):
        return outcome.exit_code  # 2 for RecipeError and InputError, 1 for RunError and ReadError
    if isinstance(outcome, OSError):
        return 1
    return 1 if getattr(outcome, "status", None) is Status.FAILED else 0


def handle_errors(fn: F) -> F:
    """Map augcli errors and a failed result to a clean 'Error: …' and their exit status; bugs keep
    their traceback. A command returns its API result after printing it."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> None:
        from augcli.errors import AugcliError

        try:
            result = fn(*args, **kwargs)
        except AugcliError as exc:
            raise cli_error(exc.spelled(flag), exit_status(exc)) from None
        except _Terminated:
            raise cli_error("terminated; run the same command again to resume", 143) from None
        except KeyboardInterrupt as exc:
            raise cli_error("interrupted; run the same command again to resume", exit_status(exc)) from None
        except click.ClickException:
            raise
        except OSError as exc:  # a system failure outside a run (a chart, a preview, a folder)
            from augcli.paths import shown

            where = shown(exc.filename) if exc.filename else "a file"
            raise cli_error(f"cannot use {where}: {exc.strerror or exc}", exit_status(exc)) from None
        if exit_status(result):
            raise cli_error(result.failure.spelled(flag), exit_status(result))

    return wrapper


# Options shared by several commands, declared once.
def _complete_recipe(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[Any]:
    """Shell completion of a recipe option: the bundled recipes' names, then files."""
    from click.shell_completion import CompletionItem

    from augcli.recipe import bundled_names

    names = [CompletionItem(name) for name in ["auto", *bundled_names()] if name.startswith(incomplete)]
    return [*names, CompletionItem(incomplete, type="file")]


recipe_option = click.option(
    "--recipe", "-r", type=click.Path(path_type=Path), default=None, shell_complete=_complete_recipe,
    metavar="FILE|NAME",
    help="Recipe: a YAML file, the name of a bundled recipe ('augcli recipes' lists them; a file of that "
         "name wins), or auto: a recipe suggested from INPUT's images, printed with its evidence (the default; "
         "'augcli suggest' explains it).")
seed_option = click.option("--seed", type=click.IntRange(0, 2**63 - 1), default=None,
                           help="Override the recipe's seed (0 to 2**63-1).")
workers_option = click.option("--workers", "-w", type=click.IntRange(1, 256), default=None,
                              help="Worker processes (default: all available cores).")
max_pixels_option = click.option(
    "--max-pixels", type=click.IntRange(1, 2**40), default=100_000_000, show_default=True,
    help="Refuse input images whose header claims more pixels (decompression bombs); refused files go to "
         "errors.csv. Raise it for images you trust.")
max_outputs_option = click.option(
    "--max-outputs", type=click.IntRange(1, 2**40), default=1_000_000, show_default=True,
    help="Refuse a plan that would write more files than this; raise it to allow a larger run.")
no_custom_option = click.option(
    "--no-custom", is_flag=True,
    help="Refuse recipes with custom steps (they import and run Python code the recipe names): "
         "use it for recipes from others and in CI.")
quiet_option = click.option("--quiet", "-q", is_flag=True, help="No progress bar or summary.")
overwrite_option = click.option("--overwrite", is_flag=True,
                                help="Replace an earlier run with other settings in OUTPUT.")
strict_option = click.option("--strict", is_flag=True, help="Exit with status 1 if any input was unreadable.")
full_decode_option = click.option("--full-decode", is_flag=True,
                                  help="Decode JPEGs at full size even when the recipe shrinks them (slower).")
dry_run_option = click.option(
    "--dry-run", is_flag=True,
    help="Write nothing: print what a run would make per class, the disk space (originals' sizes, generated "
         "images from a sample) and the time (a few outputs made and timed), and what it would do with OUTPUT.")
executor_option = click.option(
    "--executor", type=click.Choice(["local", "dask"]), default="local", show_default=True,
    help="Where tasks run: local (a process pool of --workers) or dask (a Dask cluster: --scheduler's, else a "
         "LocalCluster of --workers processes); the output is the same bytes (docs/distributed.md).")
scheduler_option = click.option(
    "--scheduler", default=None, metavar="ADDRESS",
    help="Address of a running Dask scheduler (tcp://host:8786), with --executor dask.")
input_arg = click.argument("input", type=click.Path(file_okay=False, path_type=Path))
output_arg = click.argument("output", type=click.Path(file_okay=False, path_type=Path))


class _Bar:
    """A tqdm bar on stderr, fed by the API's progress callback."""

    def __init__(self, quiet: bool, what: str) -> None:
        self.quiet, self.what = quiet, what
        self.bar: Any = None

    def __call__(self, advance: int, total: int) -> None:
        if self.quiet:
            return
        if self.bar is None:
            from tqdm import tqdm

            tqdm.monitor_interval = 0  # no monitor thread: worker processes are forked from this one
            self.bar = tqdm(total=total, unit="img", desc=self.what, file=sys.stderr, dynamic_ncols=True)
        self.bar.update(advance)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def _chosen(recipe: Path | None, input: Path, workers: int | None, max_pixels: int, quiet: bool,
            what: str = "recipe") -> Any:
    """The recipe option as the API takes it; ``auto`` (the default of --recipe) becomes the recipe suggested
    from INPUT's images, printed on stderr with its evidence before anything runs (it is also kept in the
    output's run record)."""
    from augcli import api
    from augcli.recipe import Auto, resolve

    if recipe is not None and not isinstance(resolve(recipe, what), Auto):
        return recipe
    chosen = api.suggested_recipe(input, workers=workers, max_pixels=max_pixels)
    if not quiet:
        click.echo(f"{flag(what, None)} auto: the recipe suggested for {input} ('augcli suggest {input} -o r.yaml' "
                   "saves it to edit; '--recipe default' is the fixed built-in one)", err=True)
        click.echo(chosen.text, err=True, nl=False)
    return chosen


def _report(result: RunResult, quiet: bool) -> None:
    """Print the run summary, then the input problems (those even when quiet)."""
    if not quiet:
        _written(result)
        width = max([5, *(len(c) for c in result.after)])
        click.echo(f"  {'class':<{width}}  {'before':>7}  {'after':>7}")
        for label in result.after:
            click.echo(f"  {label:<{width}}  {result.before[label]:>7}  {result.after[label]:>7}")
        click.echo(f"Manifest: {result.manifest}")
        _fixed_note(result)
    _problems(result)


def _planned(result: RunResultT) -> RunResultT:
    """Print a dry run's plan and estimates (whatever --quiet: they are what was asked for)."""
    assert result.estimate is not None
    click.echo(result.estimate.report(flag))
    if result.errors:
        click.echo(f"{len(result.errors)} input problem(s) found while scanning (a run lists them in errors.csv)",
                   err=True)
    return result


def _problems(result: RunResult) -> None:
    """Say which inputs were unreadable or left out, on stderr."""
    if result.errors:
        from augcli.paths import shown

        inputs = len(result.errors) - result.copies_left_out  # the rest are outputs left out as copies
        what = [f"{inputs} input problem(s): files skipped or unreadable"] if inputs else []
        what += [f"{result.copies_left_out} output(s) left out as copies"] if result.copies_left_out else []
        click.echo(f"{'; '.join(what)} ({result.skipped} outputs not made); see "
                   f"{shown(result.output / 'errors.csv')}", err=True)
        for path, reason in result.errors[:5]:
            click.echo(f"  {shown(path)}: {reason}", err=True)


def _fixed_note(result: RunResult) -> None:
    """Say which range parameters were given as one number (albumentations reads those as ± ranges)."""
    if result.fixed:
        click.echo("note: fixed values (a single number is that exact value, not a ± range): "
                   + "; ".join(result.fixed), err=True)


def _written(result: RunResult) -> None:
    """The first summary line: written, kept, removed, planned."""
    from augcli.paths import shown

    removed = f", {result.stale} stale removed (their source moved or changed)" if result.stale else ""
    click.echo(f"{result.made} images written, {result.kept} kept from an earlier run{removed}, "
               f"{result.planned} planned, in {shown(result.output)}")
    if result.cluster_workers:
        click.echo(f"on a Dask cluster: {result.cluster_workers} worker(s) ran tasks")
    if result.redrawn or result.copies_left_out:
        click.echo(f"{result.redrawn} drawn again (a first draw copied its source or another output; the "
                   f"manifest's redraw column), {result.copies_left_out} left out (every draw gave a copy)")


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="augcli")
def cli() -> None:
    """Grow and balance image-classification datasets offline, from a YAML recipe.

    INPUT is an ImageFolder tree (one sub-folder per class). OUTPUT gets the same tree,
    a manifest.csv saying how every file was made, and errors.csv for unreadable inputs.
    """


@cli.command()
@recipe_option
@click.option("--copies", "-n", type=click.IntRange(0, 100_000), default=None,
              help="Augmented images per input, 0 to 100000 (default: the recipe's copies).")
@click.option("--tta/--no-tta", default=None,
              help="Write a fixed test-time-augmentation set per input instead of random copies: the recipe's "
                   "tta: variants, else identity, hflip and five 87.5% crops; manifest.csv groups them by source. "
                   "Default: on when the recipe has a tta: section.")
@seed_option
@workers_option
@executor_option
@scheduler_option
@click.option("--no-originals", is_flag=True, help="Do not copy the input images into OUTPUT.")
@overwrite_option
@max_pixels_option
@max_outputs_option
@no_custom_option
@strict_option
@full_decode_option
@dry_run_option
@quiet_option
@input_arg
@output_arg
@handle_errors
def expand(recipe: Path | None, copies: int | None, tta: bool | None, seed: int | None, workers: int | None,
           executor: str, scheduler: str | None, no_originals: bool, overwrite: bool, max_pixels: int,
           max_outputs: int, no_custom: bool, strict: bool, full_decode: bool, dry_run: bool, quiet: bool,
           input: Path, output: Path) -> RunResult:
    """Write N augmented copies of every image in INPUT to OUTPUT."""
    from augcli import api

    bar = _Bar(quiet, "expand")
    try:
        recipe = _chosen(recipe, input, workers, max_pixels, quiet)
        result = api.expand(input, output, recipe=recipe, copies=copies, tta=tta, seed=seed, workers=workers,
                            originals=not no_originals, overwrite=overwrite, max_pixels=max_pixels,
                            max_outputs=max_outputs, allow_custom=not no_custom, strict=strict,
                            full_decode=full_decode, dry_run=dry_run, progress=bar, executor=executor,
                            scheduler=scheduler)
    finally:
        bar.close()
    if result.estimate is not None:
        return _planned(result)
    _report(result, quiet)
    return result


@cli.command()
@recipe_option
@click.option("--target", "-t", default=None, metavar="max|N|RATIO",
              help="Class size to reach: max (every class up to the largest), N images per class (a whole number, "
                   "--target 500), or a RATIO of the largest class in (0, 1], written with a point (--target 0.5; "
                   "1.0 is max). Default: the recipe's balance target, else max.")
@click.option("--method", "-m", type=click.Choice(["transforms", "smote", "mixup", "cutmix"]), default=None,
              help="How extra images are made (default: the recipe's, else transforms).")
@click.option("--undersample", is_flag=True, help="Cut classes above the target to a random subset of it.")
@seed_option
@workers_option
@executor_option
@scheduler_option
@click.option("--features", default=None, metavar="pixels|hog|color_hist|PATH.npz",
              help="SMOTE feature space (default pixels).")
@click.option("--smote", "smote", default=None, metavar="VARIANT",
              help="SMOTE variant: smote, borderline, borderline2, svm, kmeans (default smote). ADASYN is not "
                   "supported: imbalanced-learn builds its rows without the hook augcli uses to trace each row "
                   "to its two source images and step, so they cannot become images.")
@click.option("--k-neighbors", type=click.IntRange(1, 1000), default=None, help="SMOTE neighbours (default 5).")
@click.option("--then-recipe", type=click.Path(path_type=Path), default=None, shell_complete=_complete_recipe,
              metavar="FILE|NAME",
              help="Recipe applied after each SMOTE blend: a YAML file, a bundled recipe's name, or auto.")
@overwrite_option
@max_pixels_option
@max_outputs_option
@no_custom_option
@strict_option
@full_decode_option
@dry_run_option
@quiet_option
@input_arg
@output_arg
@handle_errors
def balance(recipe: Path | None, target: str | None, method: str | None, undersample: bool, seed: int | None,
            workers: int | None, executor: str, scheduler: str | None, features: str | None, smote: str | None,
            k_neighbors: int | None, then_recipe: Path | None, overwrite: bool, max_pixels: int, max_outputs: int,
            no_custom: bool, strict: bool, full_decode: bool, dry_run: bool, quiet: bool, input: Path,
            output: Path) -> BalanceResult:
    """Balance the classes of INPUT, writing originals plus synthetic images to OUTPUT.

    \b
    The three forms of --target:
      augcli balance in/ out/                  every class up to the largest (max)
      augcli balance in/ out/ --target 500     500 images per class (N, a whole number)
      augcli balance in/ out/ --target 0.5     half the largest class (a RATIO in (0, 1])
    --target 1 is one image per class, which adds nothing; --target 1.0 is the ratio (max).
    """
    from augcli import api

    bar = _Bar(quiet, "balance")
    try:
        both_auto = str(recipe or "auto") == str(then_recipe) == "auto" and not Path("auto").exists()
        if then_recipe is not None:  # resolved first: a wrong name is reported before any image is read
            then_recipe = _chosen(then_recipe, input, workers, max_pixels, quiet, "then_recipe")
        recipe = then_recipe if both_auto else _chosen(recipe, input, workers, max_pixels, quiet)
        result = api.balance(input, output, recipe=recipe, target=target, method=method,
                             undersample=undersample, seed=seed, workers=workers, features=features,
                             smote=smote, k_neighbors=k_neighbors, then_recipe=then_recipe,
                             overwrite=overwrite, max_pixels=max_pixels, max_outputs=max_outputs,
                             allow_custom=not no_custom, strict=strict, full_decode=full_decode, dry_run=dry_run,
                             progress=bar, executor=executor, scheduler=scheduler)
    finally:
        bar.close()
    if result.estimate is not None:
        for note in result.spelled_notes(flag):
            click.echo(f"note: {note}", err=True)
        return _planned(result)
    if not quiet:
        for note in result.spelled_notes(flag):
            click.echo(f"note: {note}", err=True)
        _fixed_note(result)
        _written(result)
        click.echo(result.table())
        click.echo(f"Chart: {result.chart}")
        click.echo(f"Manifest: {result.manifest}")
    _problems(result)
    return result


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@click.option("--chart", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Draw the class counts as a bar chart (PNG).")
@workers_option
@max_pixels_option
@input_arg
@handle_errors
def inspect(as_json: bool, chart: Path | None, workers: int | None, max_pixels: int, input: Path) -> InspectResult:
    """Summarise INPUT: images, share, formats, sizes and unreadable files per class, and the imbalance."""
    import json

    from augcli import api

    result = api.inspect(input, workers=workers, chart=chart, max_pixels=max_pixels)
    click.echo(json.dumps(result.as_dict(), indent=2) if as_json else result.report(), nl=as_json)
    return result


@cli.command()
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write the recipe to this file (default: print it). Never inside INPUT.")
@click.option("--force", is_flag=True, help="Replace an existing OUTPUT file.")
@workers_option
@max_pixels_option
@quiet_option
@input_arg
@handle_errors
def suggest(output: Path | None, force: bool, workers: int | None, max_pixels: int, quiet: bool,
            input: Path) -> Suggestion:
    """Write a recipe for INPUT from what its images show, with the evidence for each choice as comments."""
    from augcli import api
    from augcli.paths import shown

    bar = _Bar(quiet, "suggest")
    try:
        result = api.suggest(input, output=output, force=force, workers=workers, max_pixels=max_pixels,
                             progress=bar)
    finally:
        bar.close()
    if result.path is None:
        click.echo(result.text, nl=False)
    elif not quiet:
        click.echo(f"Wrote {shown(result.path)} ({result.read} images read, {len(result.classes)} class rule(s))")
    for path, reason in [*result.problems, *result.unreadable][:5]:
        click.echo(f"  skipped {shown(path)}: {reason}", err=True)
    return result


@cli.command()
@click.argument("name", required=False)
@click.option("--markdown", is_flag=True, help="Print the Markdown reference (docs/transforms.md).")
@handle_errors
def transforms(name: str | None, markdown: bool) -> None:
    """List every transform with its parameters, or show one NAME."""
    from augcli import docs

    click.echo(docs.transforms_markdown() if markdown else docs.transforms_text(name), nl=False)


@cli.group(invoke_without_command=True)
@click.pass_context
def recipes(ctx: click.Context) -> None:
    """List the bundled recipes, one line each; 'augcli recipes show NAME' prints one.

    Pass one by name (--recipe light), or copy one to edit: augcli recipes show light > my.yaml
    """
    if ctx.invoked_subcommand is None:
        from augcli.recipe import bundled, bundled_names

        names = bundled_names()
        width = max(map(len, names))
        for name in names:
            click.echo(f"{name:<{width}}  {bundled(name).purpose()}")
        click.echo("Use one by name (--recipe light), or copy one to edit: augcli recipes show light > my.yaml",
                   err=True)


@recipes.command("show")
@click.argument("name")
@handle_errors
def show_recipe(name: str) -> None:
    """Print the bundled recipe NAME (redirect it to a file to edit it)."""
    from augcli.recipe import bundled

    click.echo(bundled(name).text(), nl=False)


@cli.command()
@recipe_option
@click.option("--images", type=click.IntRange(1, 64), default=8, show_default=True,
              help="Sample images (rows), 1 to 64.")
@click.option("--variants", type=click.IntRange(1, 32), default=6, show_default=True,
              help="Variants per image, 1 to 32.")
@seed_option
@click.option("--cell", type=click.IntRange(32, 1024), default=160, show_default=True,
              help="Cell size in pixels, 32 to 1024.")
@click.option("--transform", "transform", default=None, help="Sweep one transform across its parameter range.")
@no_custom_option
@max_pixels_option
@input_arg
@click.argument("output", type=click.Path(dir_okay=False, path_type=Path))
@handle_errors
def preview(recipe: Path | None, images: int, variants: int, seed: int | None, cell: int, transform: str | None,
            no_custom: bool, max_pixels: int, input: Path, output: Path) -> PreviewResult:
    """Draw a PNG contact sheet of what a recipe makes from INPUT (no dataset is written)."""
    from augcli import api

    recipe = _chosen(recipe, input, None, max_pixels, False)
    result = api.preview(input, output, recipe=recipe, images=images, variants=variants, seed=seed, cell=cell,
                         transform=transform, allow_custom=not no_custom, max_pixels=max_pixels)
    click.echo(f"Wrote {result.path} ({result.rows} rows x {result.columns} columns)")
    from augcli.paths import shown

    for path, reason in [*result.problems, *result.unreadable][:5]:
        click.echo(f"  skipped {shown(path)}: {reason}", err=True)
    return result


@cli.command()
@click.argument("manifest", type=click.Path(dir_okay=False, exists=True, path_type=Path))
@click.argument("output", type=click.Path(file_okay=False, path_type=Path))
@click.option("--input", "input_root", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Input folder of the run (default: the one recorded beside the manifest).")
@click.option("--quality", type=click.IntRange(1, 100), default=None,
              help="JPEG/WebP quality of the run, when no run record lies beside the manifest (default 95).")
@workers_option
@executor_option
@scheduler_option
@quiet_option
@handle_errors
def replay(manifest: Path, output: Path, input_root: Path | None, quality: int | None, workers: int | None,
           executor: str, scheduler: str | None, quiet: bool) -> ReplayResult:
    """Rebuild every output of MANIFEST from its sources and recorded ops alone, and compare bytes."""
    from augcli import api

    bar = _Bar(quiet, "replay")
    try:
        result = api.replay(manifest, output, input=input_root, quality=quality, workers=workers, progress=bar,
                            executor=executor, scheduler=scheduler)
    finally:
        bar.close()
    click.echo(f"{result.identical} of {result.rebuilt} outputs rebuilt byte for byte in {output}")
    for path in result.mismatched[:10]:
        click.echo(f"  {path}: {result.reasons.get(path, 'differs')}", err=True)
    return result


class _Terminated(KeyboardInterrupt):
    """SIGTERM outside a run's own handling (reading the tree for --recipe auto, SMOTE's features, a
    preview): the command stops as on Ctrl-C, with one line and exit status 143, not killed mid-way."""


def _on_term(signum: int, frame: object) -> None:
    raise _Terminated


def main() -> None:
    """Console-script entry point."""
    signal.signal(signal.SIGTERM, _on_term)  # a run installs its own handler and puts this one back
    cli(prog_name="augcli")
