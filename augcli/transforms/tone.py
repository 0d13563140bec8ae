"""Tone and colour-table transforms. They leave alpha alone."""

from __future__ import annotations
