"""The authorisation matrix as tests: every cell of `tests.e2e.authz.MATRIX` (core rows) and of
the areas in `tests/e2e/authz_areas/`, run against one platform started as `make up` starts it.
See `tests/e2e/authz.py` for the callers, the variants and how answers are pinned to a layer."""
from __future__ import annotations

import pytest
from fastapi.routing import APIRoute, iter_route_contexts

from tests.e2e import audit_completeness, authz_areas
from tests.e2e.authz import ANON, BUILDERS, CALLERS, MATRIX, World, all_cells, mismatch

authz_areas.load()
CELLS = all_cells()

pytestmark = pytest.mark.e2e



@pytest.fixture(scope="module")
def world(platform):
    if platform.backend == "postgresql":
        pytest.skip("the authorisation matrix runs on SQLite only, to keep the suite fast")
    w = World(platform)
    w.build()
    yield w
    w.http.close()


# Only the SQLite platform is started for this module (the `platform` fixture's params are
# overridden): the access rules do not depend on the database.
@pytest.mark.parametrize("platform", ["sqlite"], indirect=True)
@pytest.mark.parametrize("cell", CELLS, ids=[c.id for c in CELLS])
def test_cell(world, cell):
    call = BUILDERS[cell.route](world, cell.caller, cell.variant)
    r = world.call(call.method, call.url, call.token, cookies=call.cookies, json=call.json, data=call.data,
                   params=call.params)
    if call.after:
        call.after(r)
    audit_completeness.observe(cell, r)
    problem = mismatch(r, cell.expected)
    assert problem is None, f"{cell.id}: {problem}"
    if r.is_success:
        hidden = {name: world.ids[name] for name in MATRIX[cell.route].hidden.get(cell.caller, ())}
        leaked = sorted(name for name, value in {**world.foreign_markers(cell.caller), **hidden}.items()
                        if value in r.text)
        assert not leaked, f"{cell.id}: the answer shows records the caller may not see: {leaked}\n{r.text[:500]}"


@pytest.mark.parametrize("platform", ["sqlite"], indirect=True)
def test_every_mutation_leaves_its_audit_entry(world):
    """After the cells: each successful non-GET cell, and each RPC method a mutation reached,
    left an audit entry with the request's id, or is exempt with a reason (see
    tests/e2e/audit_completeness.py)."""
    if len({o.cell for o in audit_completeness.OBSERVED}) < len(CELLS):
        pytest.skip("needs every cell of the matrix to have run first (run the whole module)")
    problems = audit_completeness.check(world.p.data_dir, MATRIX)
    assert not problems, "mutations without their audit entry:\n" + "\n".join(problems)


def _app_routes() -> set[tuple[str, str]]:
    from gateway.app import create_app
    return {(method, ctx.path_format) for ctx in iter_route_contexts(create_app().routes)
            if isinstance(ctx.original_route, APIRoute) for method in ctx.methods}


def test_every_route_of_the_gateway_has_cells():
    routes = _app_routes()
    assert len(routes) >= 20, "the route walker must see the whole API"
    missing = sorted(routes - set(MATRIX))
    assert not missing, f"routes without cells in the authorisation matrix: {missing}"
    stale = sorted(set(MATRIX) - routes)
    assert not stale, f"matrix rows for routes that no longer exist: {stale}"
    assert not sorted(set(MATRIX) - set(BUILDERS)), "every row needs a way to call its route"


def test_the_table_is_complete():
    for route_, row in MATRIX.items():
        callers = set(row.own)
        if callers != {ANON}:
            assert callers == set(CALLERS), f"{route_}: callers missing: {sorted(set(CALLERS) - callers)}"
        for variant, overrides in row.variants.items():
            assert set(overrides) <= callers, f"{route_} {variant}: unknown callers {set(overrides) - callers}"
        assert set(row.hidden) <= callers
    assert len({c.id for c in CELLS}) == len(CELLS)
