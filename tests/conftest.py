"""Shared pytest configuration: fixture modules from tests/fixtures are registered here."""

from __future__ import annotations

pytest_plugins = ["tests.fixtures.sshd"]
