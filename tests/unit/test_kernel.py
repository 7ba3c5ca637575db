import uuid

import jwt
import pytest

from services.kernel.errors import ERROR_TABLE, AppError, Forbidden, InvalidInput, NotAuthenticated, SecondFactorRequired
from services.kernel.events import Actor, Entity, Envelope, change_data
from services.kernel.identity import Principal, TokenSigner, TokenVerifier, ensure_dev_keypair, require
from services.kernel.settings import PlatformSettings, database_url
from services.kernel.validation import clean_email, clean_text, page_args


def _envelope(**kw):
    base = dict(type="grades.grade_recorded", tenant_id="t", actor=Actor("u", "teacher"),
                entity=Entity("grade", "g"), data=change_data({"value": 9}, {"value": 8}), correlation_id="c")
    base.update(kw)
    return Envelope(**base)


def test_envelope_round_trip_keeps_every_field():
    e = _envelope(reason="corectare")
    again = Envelope.from_dict(e.to_dict())
    assert again == e
    assert str(uuid.UUID(again.event_id)) == again.event_id
    assert again.data == {"after": {"value": 9}, "before": {"value": 8}}
    assert again.service == "grades"


def test_the_outbox_stores_the_envelope_as_to_dict_spells_it():
    """The outbox serialises without `asdict`'s deep copy: the same document, field for field."""
    from services.kernel.outbox import _shallow
    e = _envelope(reason="corectare")
    assert _shallow(e) == e.to_dict()
    assert set(_shallow(e)) == set(e.to_dict())


@pytest.mark.parametrize("mutate", [
    lambda d: d.pop("event_id"), lambda d: d.update(event_id="nope"), lambda d: d.update(actor="x"),
    lambda d: d.update(occurred_at="yesterday"), lambda d: d.update(type="GradeRecorded"),
])
def test_malformed_envelopes_are_refused(mutate):
    d = _envelope().to_dict()
    mutate(d)
    with pytest.raises(InvalidInput):
        Envelope.from_dict(d)


def test_every_domain_error_has_a_4xx_or_503_status_and_a_code():
    assert set(ERROR_TABLE) == {c.__name__ for c in AppError.__subclasses__()}
    for status, code in ERROR_TABLE.values():
        assert 400 <= status < 500 or status == 503
        assert code and code.islower()


@pytest.fixture
def keys(tmp_path):
    priv, pub = tmp_path / "k.pem", tmp_path / "k.pub.pem"
    ensure_dev_keypair(priv, pub)
    return priv.read_bytes(), pub.read_bytes()


def test_tokens_verify_and_carry_factors(keys):
    token, ttl = TokenSigner(keys[0], 900).issue(user_id="u", tenant_id="t", roles=["teacher"],
                                                 factors=["pwd", "otp"], session_id="s", person_id=None)
    p = TokenVerifier(keys[1]).verify(token)
    assert (p.user_id, p.tenant_id, p.roles, p.factors, ttl) == ("u", "t", {"teacher"}, {"pwd", "otp"}, 900)
    assert p.has_second_factor


def test_tampered_expired_and_foreign_tokens_are_refused(keys, tmp_path):
    signer = TokenSigner(keys[0], 900)
    token, _ = signer.issue(user_id="u", tenant_id="t", roles=["teacher"], factors=["pwd"], session_id="s")
    header, payload, sig = token.split(".")
    forged = jwt.utils.base64url_encode(jwt.utils.base64url_decode(payload).replace(b'"teacher"', b'"director"'))
    with pytest.raises(NotAuthenticated):
        TokenVerifier(keys[1]).verify(f"{header}.{forged.decode()}.{sig}")
    expired, _ = TokenSigner(keys[0], -60).issue(user_id="u", tenant_id="t", roles=[], factors=["pwd"],
                                                 session_id="s")
    with pytest.raises(NotAuthenticated, match="expired"):
        TokenVerifier(keys[1]).verify(expired)
    ensure_dev_keypair(tmp_path / "o.pem", tmp_path / "o.pub.pem")
    with pytest.raises(NotAuthenticated):
        TokenVerifier((tmp_path / "o.pub.pem").read_bytes()).verify(token)
    with pytest.raises(NotAuthenticated):
        TokenVerifier(keys[1]).verify(jwt.encode({"sub": "u"}, "secret", algorithm="HS256"))


def test_require_checks_roles_and_second_factor():
    teacher = Principal(user_id="u", tenant_id="t", roles=frozenset({"teacher"}), factors=frozenset({"pwd", "otp"}))
    assert require(teacher, "teacher") is teacher
    with pytest.raises(Forbidden):
        require(teacher, "director")
    without_2fa = Principal(user_id="u", tenant_id="t", roles=frozenset({"teacher"}))
    with pytest.raises(SecondFactorRequired):
        require(without_2fa, "teacher")
    student = Principal(user_id="s", tenant_id="t", roles=frozenset({"student"}))
    assert require(student, "student") is student  # optional for students
    with pytest.raises(SecondFactorRequired):
        require(student, "student", second_factor=True)
    partial = Principal(user_id="u", tenant_id="t", roles=frozenset({"student"}), stage="mfa")
    with pytest.raises(SecondFactorRequired):
        require(partial, "student")
    integrator = Principal(user_id="c", tenant_id="t", roles=frozenset({"integrator"}),
                           scopes=frozenset({"catalog:read"}))
    assert require(integrator, "director", scope="catalog:read") is integrator
    with pytest.raises(Forbidden):
        require(integrator, "director", scope="registry:write")
    with pytest.raises(Forbidden):
        require(integrator, "director")
    with pytest.raises(NotAuthenticated):
        require(None, "teacher")


def test_text_normalisation_for_romanian_names():
    assert clean_text("  Ştefan   Ţepeş ", field="n") == "Ștefan Țepeș"
    assert clean_text("Ana-Mari\u0061\u0306", field="n") == "Ana-Mariă"  # NFC
    with pytest.raises(InvalidInput):
        clean_text("a\x00b", field="n")
    with pytest.raises(InvalidInput):
        clean_text("   ", field="n")
    assert clean_email(" Prof@Școala.RO ") == "prof@școala.ro"
    with pytest.raises(InvalidInput):
        clean_email("not-an-email")
    assert page_args(None, None) == (50, 0)
    with pytest.raises(InvalidInput):
        page_args(0, 0)


def test_production_refuses_development_defaults(monkeypatch):
    monkeypatch.setenv("PLATFORM_ENV", "production")
    with pytest.raises(ValueError, match="AMQP_URI"):
        PlatformSettings()
    monkeypatch.setenv("AMQP_URI", "amqp://u:p@broker:5672/prod")
    with pytest.raises(ValueError, match="AUTH_"):
        PlatformSettings()
    monkeypatch.setenv("AUTH_PUBLIC_KEY_FILE", "/keys/pub.pem")
    settings = PlatformSettings()
    monkeypatch.delenv("GRADES_DATABASE_URL", raising=False)
    with pytest.raises(RuntimeError, match="GRADES_DATABASE_URL"):
        database_url("grades", settings)


def test_services_starting_together_end_up_with_one_matching_key_pair(tmp_path):
    """Every service creates the development key pair at start, all at the same moment."""
    import subprocess
    import sys
    import time
    script = ("import sys, time; from pathlib import Path; from services.kernel.identity import ensure_dev_keypair; "
              "d = Path(sys.argv[1]); time.sleep(max(0, float(sys.argv[2]) - time.time())); "
              "ensure_dev_keypair(d / 'k.pem', d / 'k.pub')")
    start_at = str(time.time() + 2.0)  # all imports done by then: the calls really coincide
    procs = [subprocess.Popen([sys.executable, "-c", script, str(tmp_path / "keys"), start_at]) for _ in range(8)]
    assert [p.wait(60) for p in procs] == [0] * 8
    from cryptography.hazmat.primitives import serialization
    private = serialization.load_pem_private_key((tmp_path / "keys" / "k.pem").read_bytes(), password=None)
    public = (tmp_path / "keys" / "k.pub").read_bytes()
    assert private.public_key().public_bytes(serialization.Encoding.PEM,
                                             serialization.PublicFormat.SubjectPublicKeyInfo) == public
    assert not list((tmp_path / "keys").glob("*.tmp"))
