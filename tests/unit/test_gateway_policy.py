"""Deny by default: every API route has an access rule, and a route without one is refused."""
from __future__ import annotations

import pytest
from fastapi.routing import APIRoute, iter_route_contexts
from fastapi.testclient import TestClient

from gateway.app import create_app
from gateway.policy import POLICY
from gateway.ratelimit import TokenBuckets
from gateway.revocations import RevocationList
from services.kernel.identity import TokenSigner, TokenVerifier, ensure_dev_keypair


@pytest.fixture
def app(tmp_path):
    priv, pub = tmp_path / "k.pem", tmp_path / "k.pub.pem"
    ensure_dev_keypair(priv, pub)
    application = create_app()
    application.state.verifier = TokenVerifier(pub.read_bytes())
    application.state.signer = TokenSigner(priv.read_bytes(), 600)
    application.state.revoked = RevocationList(remember_seconds=600)
    application.state.client_limits = TokenBuckets(rate_per_second=1, burst=2)
    return application


def api_routes(app):
    """Every API route as FastAPI resolves it (included routers flattened, prefixes applied)."""
    for ctx in iter_route_contexts(app.routes):
        if isinstance(ctx.original_route, APIRoute):
            for method in ctx.methods:
                yield method, ctx.path_format


def test_every_route_has_an_access_rule(app):
    assert len(set(api_routes(app))) >= 20, "the route walker must see the whole API"
    missing = sorted(set(api_routes(app)) - set(POLICY))
    assert not missing, f"routes without an entry in gateway.policy.POLICY: {missing}"


def test_the_policy_names_no_route_that_does_not_exist(app):
    stale = sorted(set(POLICY) - set(api_routes(app)))
    assert not stale, f"policy entries for routes that no longer exist: {stale}"


def test_a_route_without_a_rule_is_refused_even_with_a_valid_token(app):
    @app.get("/v1/unguarded")
    async def unguarded():
        return {"leak": True}

    token, _ = app.state.signer.issue(user_id="u", tenant_id="t", roles=["operator"], factors=["pwd", "otp"],
                                      session_id="s")
    client = TestClient(app)
    r = client.get("/v1/unguarded", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 403
    assert r.json() == {"error": "forbidden", "message": "no access rule is defined for this route"}


def test_a_role_outside_the_rule_is_refused_before_any_service_is_called(app):
    token, _ = app.state.signer.issue(user_id="u", tenant_id="t", roles=["school_admin"], factors=["pwd", "otp"],
                                      session_id="s")
    client = TestClient(app)  # no lifespan: there is no RPC client, so reaching a service would be a 500
    r = client.post("/v1/grades", headers={"Authorization": f"Bearer {token}"}, json={})
    assert r.status_code == 403 and r.json()["error"] == "forbidden"
    r = client.post("/v1/grades", json={})
    assert r.status_code == 401 and r.json()["error"] == "not_authenticated"


def _token(app, roles, factors=("pwd", "otp"), session_id="s", **extra):
    return app.state.signer.issue(user_id="u", tenant_id="t", roles=list(roles), factors=list(factors),
                                  session_id=session_id, extra=extra or None)[0]


def test_partial_tokens_reach_only_the_sign_in_steps(app):
    client = TestClient(app)
    partial = _token(app, ["teacher"], factors=["pwd"], stage="enrol")
    r = client.get("/v1/grades", headers={"Authorization": f"Bearer {partial}"})
    assert r.status_code == 401 and r.json() == {"error": "second_factor_required",
                                                 "message": "enrol a second factor first"}
    r = client.get("/v1/me", headers={"Authorization": f"Bearer {partial}"})
    assert r.status_code == 200 and r.json()["stage"] == "enrol"


def test_a_mandatory_role_without_a_second_factor_is_refused_even_with_a_full_token(app):
    token = _token(app, ["director"], factors=["pwd"])
    r = TestClient(app).get("/v1/grades", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 401 and r.json()["error"] == "second_factor_required"


def test_revoked_sessions_are_refused_at_once(app):
    token = _token(app, ["student"], factors=["pwd"], session_id="gone")
    client = TestClient(app)
    assert client.get("/v1/me", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    app.state.revoked.add("gone")
    r = client.get("/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 401 and "session has ended" in r.json()["message"]


def test_integrators_pass_only_where_a_rule_names_their_scope_and_are_rate_limited(app):
    token = _token(app, ["integrator"], factors=["client_secret"], scope="registry:read")
    client = TestClient(app)
    h = {"Authorization": f"Bearer {token}"}
    assert client.get("/v1/grades", headers=h).status_code == 403  # needs catalog:read
    assert client.get("/v1/me", headers=h).status_code == 403      # no scope names /v1/me
    r = client.post("/v1/registry/persons", headers=h, json={})
    assert r.status_code == 403                                     # needs registry:write
    app.state.client_limits = TokenBuckets(rate_per_second=0.001, burst=0)
    reader = _token(app, ["integrator"], factors=["client_secret"], scope="catalog:read")
    r = client.get("/v1/grades", headers={"Authorization": f"Bearer {reader}"})
    assert r.status_code == 429 and r.headers["retry-after"] and r.json()["error"] == "rate_limited"


def test_token_buckets_refill_at_their_rate():
    limits = TokenBuckets(rate_per_second=2, burst=2)
    assert limits.allow("c", now=0) and limits.allow("c", now=0) and not limits.allow("c", now=0)
    assert not limits.allow("c", now=0.25)
    assert limits.allow("c", now=0.8)
    assert limits.allow("other", now=0.8)
