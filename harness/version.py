"""The harness's version, in a module of its own so that any layer can record it."""

VERSION = "0.1.0"
"""The version of this harness (also the package version in pyproject.toml; a test keeps them equal)."""
