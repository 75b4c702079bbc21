"""Recipes: the TOML a user writes (model, data, stages, budgets), read, overridden and checked
in milliseconds without TensorFlow; the bundled example recipes; and `build()`, which runs one."""

from .build import build
from .load import bundled_recipes, load_recipe, parse_recipe, resolve
from .overrides import apply_overrides
from .schema import Recipe

__all__ = ["Recipe", "apply_overrides", "build", "bundled_recipes", "load_recipe",
           "parse_recipe", "resolve"]
