"""Policies built from other transforms: RandAugment and TrivialAugment."""

from __future__ import annotations
