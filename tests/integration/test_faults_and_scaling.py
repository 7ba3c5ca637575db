"""Faults (broker cut, service down) and scaling (two replicas share work), on the real broker."""
from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from urllib.parse import urlparse

import httpx
import pytest

from deploy.local.demo import Api, operator_credentials, seed_demo
from deploy.local.platform import LocalPlatform
from gateway.rpc import RpcClient
from tests.infra import TcpProxy, free_port, temporary_vhost

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def running(tmp_path_factory):
    """Two grades replicas and two audit replicas; every process reaches RabbitMQ through a proxy."""
    with temporary_vhost("faults") as real_uri:
        vhost = urlparse(real_uri).path.lstrip("/")
        proxy = TcpProxy(5672).start()
        data_dir = tmp_path_factory.mktemp("faults")
        operator = operator_credentials(data_dir)
        platform = LocalPlatform(
            data_dir=data_dir, gateway_port=free_port(),
            amqp_uri=f"amqp://guest:guest@127.0.0.1:{proxy.port}/{vhost}",
            replicas={"grades": 2, "audit": 2},
            extra_env={"RPC_TIMEOUT_SECONDS": "2", "PLATFORM_OPERATOR_EMAIL": operator["email"],
                       "PLATFORM_OPERATOR_PASSWORD": operator["password"]})
        platform.start()
        try:
            platform.wait_ready()
            demo = seed_demo(platform.url, platform.ca_file, data_dir)
            demo["api"] = Api(platform.url, platform.ca_file)
            yield platform, demo, proxy, real_uri
        finally:
            platform.stop()
            proxy.stop()


def _client(platform, token=None):
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.Client(base_url=platform.url, verify=str(platform.ca_file), headers=headers, timeout=30)


def _login(demo, role):
    """One sign-in per role for the module: the same TOTP step cannot be used twice."""
    cache = demo.setdefault("tokens", {})
    if role not in cache:
        user = demo["users"][role]
        cache[role] = demo["api"].login(user["email"], user["password"], user.get("totp_secret"))
    return cache[role]


def _grade_body(demo, value=7):
    return {"class_id": demo["class"]["id"], "subject_id": demo["subject"]["id"],
            "student_id": demo["student_person"]["id"], "value": value}


def test_two_replicas_of_a_service_share_the_calls(running):
    platform, _demo, _proxy, real_uri = running

    async def ping_many() -> Counter:
        client = RpcClient(real_uri)
        await client.start()
        try:
            replies = await asyncio.gather(*(client.call("grades", "ping") for _ in range(60)))
        finally:
            await client.close()
        return Counter(r["instance"] for r in replies)

    instances = asyncio.run(ping_many())
    assert len(instances) == 2, instances
    assert min(instances.values()) >= 5, f"one replica did almost nothing: {instances}"


def test_two_audit_replicas_share_the_event_stream_and_lose_nothing(running):
    platform, demo, _proxy, _uri = running
    teacher = _login(demo, "teacher")
    with _client(platform, teacher) as c:
        ids = [c.post("/v1/grades", json=_grade_body(demo, v % 10 + 1)).json()["id"] for v in range(40)]
    director = _login(demo, "director")
    deadline = time.monotonic() + 20
    seen: set[str] = set()
    while time.monotonic() < deadline and not set(ids) <= seen:
        with _client(platform, director) as c:
            after = None
            seen = set()
            while True:
                page = c.get("/v1/audit/events", params={"type": "grades.grade_recorded", "limit": 200,
                                                         **({"after_sequence": after} if after else {})}).json()
                seen |= {e["entity"]["id"] for e in page["items"]}
                after = page["next_after_sequence"]
                if not after:
                    break
        time.sleep(0.3)
    assert set(ids) <= seen
    handled = [platform.data_dir / "logs" / name for name in ("audit.log", "audit-2.log")]
    counts = [sum(json.loads(line).get("method") == "record" for line in p.read_text().splitlines()
                  if line.startswith("{")) for p in handled]
    assert all(n > 0 for n in counts), f"both audit replicas consume: {counts}"


def test_a_stopped_service_gives_503_quickly_and_the_abandoned_write_never_lands(running):
    platform, demo, _proxy, _uri = running
    teacher = _login(demo, "teacher")
    with _client(platform, teacher) as c:
        before = c.get("/v1/grades", params={"limit": 1}).json()["total"]
    platform.kill("grades")
    platform.kill("grades-2")
    try:
        with _client(platform, teacher) as c:
            started = time.monotonic()
            r = c.post("/v1/grades", json=_grade_body(demo, 2))
            elapsed = time.monotonic() - started
        assert r.status_code == 503, r.text
        assert r.json()["error"] == "service_unavailable"
        assert elapsed < 5, "answers within the RPC timeout, never hangs"
    finally:
        platform.restart("grades")
        platform.restart("grades-2")
    platform.wait_ready()
    time.sleep(1)
    with _client(platform, teacher) as c:
        after = c.get("/v1/grades", params={"limit": 1}).json()["total"]
    assert after == before, "the request the gateway gave up on expired instead of running later"


def test_broker_cut_gives_fast_503_and_the_platform_recovers(running):
    platform, demo, proxy, _uri = running
    teacher = _login(demo, "teacher")
    proxy.stop()
    try:
        time.sleep(0.5)
        with _client(platform, teacher) as c:
            started = time.monotonic()
            r = c.post("/v1/grades", json=_grade_body(demo, 4))
            elapsed = time.monotonic() - started
            assert r.status_code == 503 and r.json()["error"] == "service_unavailable", r.text
            assert elapsed < 1.0, f"broker down must fail fast, took {elapsed:.2f}s"
            ready = c.get("/readyz")
            assert ready.status_code == 503 and ready.json()["checks"]["broker"] == "unreachable"
            assert c.get("/healthz").status_code == 200
    finally:
        proxy.start()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        with _client(platform, teacher) as c:
            r = c.post("/v1/grades", json=_grade_body(demo, 5))
        if r.status_code == 201:
            break
        time.sleep(1)
    assert r.status_code == 201, r.text
