"""Registers the shared fixtures; they live in tests/support/fixtures.py, beside the builders."""

pytest_plugins = ["tests.support.fixtures"]
