"""Transform declarations. Importing this package fills ``augcli.spec.REGISTRY``.

Each family module is imported explicitly (no star imports, no metaclass).
"""

from __future__ import annotations

from augcli.transforms import (
                               blur,
                               color,
                               custom,
                               distort,
                               dropout,
                               filters,
                               geometric,
                               masks,
                               mix,
                               noise,
                               policies,
                               tone,
)

__all__ = ["blur", "color", "custom", "distort", "dropout", "filters", "geometric", "masks", "mix", "noise", "policies",
           "tone"]
