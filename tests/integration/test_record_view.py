"""`Store.record_view`: a read of personal data becomes a `…_viewed` event in the outbox,
committed on its own (read paths have no transaction), without the data itself."""
from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from services.kernel.db import make_engine, make_sessionmaker
from services.kernel.identity import Principal
from services.kernel.model_base import make_base
from services.kernel.nameko_support import CallContext, Store

pytestmark = pytest.mark.integration


def test_a_read_is_recorded_as_a_viewed_event(database_url):
    base = make_base()
    engine = make_engine(database_url)
    base.metadata.create_all(engine)
    woken = []
    store = Store("registry", make_sessionmaker(engine), base.metadata, lambda: woken.append(1))
    ctx = CallContext("req-123456789", None, None)
    ctx._checked, ctx._principal = True, Principal("u7", "t1", frozenset({"registry_clerk"}))
    store.record_view(ctx, "person_viewed", entity_type="person", entity_id="p1", fields=["cnp", "nume"],
                      purpose="verificare înmatriculare")
    with pytest.raises(ValueError):
        store.record_view(ctx, "person_changed", entity_type="person", entity_id="p1")
    with store.reading() as s:
        (payload,) = s.execute(select(base.metadata.tables["outbox"].c.payload)).one()
    event = json.loads(payload)
    assert event["type"] == "registry.person_viewed" and event["tenant_id"] == "t1"
    assert event["actor"] == {"id": "u7", "role": "registry_clerk"} and event["correlation_id"] == "req-123456789"
    assert event["data"]["after"] == {"fields": ["cnp", "nume"], "purpose": "verificare înmatriculare"}
    assert woken, "the relay is woken to publish it"
    engine.dispose()
