"""Bounds of the API's numeric options, checked before anything is read (the CLI bounds its flags alike)."""

from __future__ import annotations

from augcli.errors import InputError, option

DEFAULT_MAX_OUTPUTS = 1_000_000
MAX_COPIES = 100_000  # as a recipe's ``copies``
MAX_SEED = 2**63 - 1  # as a recipe's ``seed``
MAX_WORKERS = 256
BOUNDS = {  # keyword: (least, most), the same bounds a recipe has
    "copies": (0, MAX_COPIES), "seed": (0, MAX_SEED), "workers": (1, MAX_WORKERS), "max_pixels": (1, 2**40),
    "max_outputs": (1, 2**40), "k_neighbors": (1, 1000), "quality": (1, 100), "images": (1, 64),
    "variants": (1, 32), "cell": (32, 1024),
}



def check_options(**options: int | None) -> None:
    """Every numeric option given within its bounds (:data:`BOUNDS`), before anything is read."""
    for name, value in options.items():
        least, most = BOUNDS[name]
        if value is not None and not least <= value <= most:
            raise InputError(f"{option(name)}: expected an integer in [{least}, {most}], got {value}")


def check_total(total: int, max_outputs: int | None, what: str) -> None:
    """A plan above ``max_outputs`` files needs the limit raised explicitly."""
    if max_outputs is not None and total > max_outputs:
        raise InputError(f"{what} would write {total:,} files, more than {option('max_outputs')} {max_outputs:,}; "
                         f"pass {option('max_outputs', total)} if that is really meant")
