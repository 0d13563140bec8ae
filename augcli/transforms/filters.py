"""Convolution filters: sharpen, emboss, edges, median and motion blur."""

from __future__ import annotations
