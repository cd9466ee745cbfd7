"""migrator: plan and drive the Open Food Facts infrastructure moves, step by step, resumably."""

from __future__ import annotations

__version__ = "0.1.0"
