"""Transform declarations. Importing this package fills ``augcli.spec.REGISTRY``."""

from __future__ import annotations

from augcli.transforms import blur, color, geometric, noise

__all__ = ["blur", "color", "geometric", "noise"]
