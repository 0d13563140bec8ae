"""The custom step: a user's own function, named explicitly in the recipe."""

from __future__ import annotations
