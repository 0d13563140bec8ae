"""Blends through smooth random masks, and superpixels."""

from __future__ import annotations
