"""Rows of the authorisation matrix per area of the API, one module each.

A module here imports the vocabulary from `tests.e2e.authz` (callers, answers, `Row`, `only`,
`route`, `Call`, `World`), adds its rows to `MATRIX`, a builder per row with `@route`, and,
if its builders need records of their own, a function appended to `PREPARE` that makes them
once per matrix run (`world.ids[...]`). `load()` imports every module of this package.
"""
from __future__ import annotations

import importlib
import pkgutil


def load() -> None:
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda i: i.name):
        importlib.import_module(f"{__name__}.{info.name}")
