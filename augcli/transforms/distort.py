"""Non-linear geometric transforms (displacement fields). They break the fused-warp chain."""

from __future__ import annotations
