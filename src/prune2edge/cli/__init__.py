"""The `prune2edge` command: parses, calls the library, prints. No ML logic here; one module
per command group, each registering its commands on the shared Typer app."""

# The command modules register their commands in the order --help lists them.
from . import build, tune, structure, sensitivity, check, device, recipes  # noqa: I001
from .app import app

__all__ = ["app", "build", "check", "device", "main", "recipes", "sensitivity", "structure",
           "tune"]


def main() -> None:
    app(prog_name="prune2edge")
