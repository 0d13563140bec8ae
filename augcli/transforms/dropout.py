"""Occlusion and compression transforms."""

from __future__ import annotations
