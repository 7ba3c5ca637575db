"""The school's privacy notice (the right to be informed, CAT-11) and its acknowledgements.

Each tenant has a versioned notice in Romanian and English. Version 1 is the platform's
template filled in with the school's name: it is computed, never stored, so every tenant has
one from its first day (also those created before this feature). A school administrator
publishes version 2, 3, ... (stored). A user acknowledges the current version; the sign-in
answer and `/v1/me` say `privacy_notice_pending: {"version": n}` while the current version is
not yet acknowledged (so the notice is shown at first sign-in and again after each change).
"""
from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from services.kernel.errors import Conflict, Forbidden, InvalidInput, NotFound
from services.kernel.identity import PLATFORM_TENANT, Principal, Role, require

from .models import PrivacyAcknowledgement, PrivacyNotice, Tenant

LANGUAGES = ("ro", "en")
MAX_TEXT = 50_000

TEMPLATE_RO = """Notă de informare privind prelucrarea datelor cu caracter personal

Operator: {school}. Școala decide ce date se prelucrează și în ce scop.
Persoană împuternicită: furnizorul platformei de catalog electronic și registru matricol, care
prelucrează datele numai la instrucțiunile școlii.

Scopuri: ținerea catalogului școlar (note, absențe, medii, situații școlare), a registrului
matricol, comunicarea cu elevii și părinții, securitatea conturilor și jurnalul de audit.

Temei legal: îndeplinirea unei obligații legale și a unei sarcini de interes public ale școlii
(legislația învățământului, regulamentul catalogului și al registrului matricol).

Păstrarea datelor: catalogul este documentul legal al școlii și se păstrează pe durata prevăzută
de lege; datele din registrul matricol se păstrează pe toată durata vieții persoanei și nu se
șterg niciodată (REG-8): orice corectură devine o versiune nouă, iar cea veche rămâne. Jurnalul
de audit se păstrează împreună cu datele pe care le descrie.

Destinatari: personalul școlii care are nevoie de date pentru atribuțiile sale, elevul și părinții
săi, inspectoratul și sistemele informatice ale ministerului, în condițiile legii.

Drepturile dumneavoastră: de informare, de acces (exportul datelor), de rectificare, de
restricționare a prelucrării și la portabilitate. Cererea de ștergere primește răspunsul motivat
de mai sus. Vă puteți adresa școlii sau Autorității Naționale de Supraveghere a Prelucrării
Datelor cu Caracter Personal.
"""

TEMPLATE_EN = """Privacy notice

Controller: {school}. The school decides which data are processed and why.
Processor: the provider of the electronic catalog and matriculation registry platform, which
processes the data only on the school's instructions.

Purposes: keeping the school catalog (grades, absences, averages, school results), the
matriculation registry, communicating with pupils and parents, account security and the
audit trail.

Legal basis: a legal obligation and a task in the public interest of the school (education law,
the catalog and matriculation registry regulations).

Retention: the catalog is the school's legal record and is kept for as long as the law requires;
matriculation registry data are kept for the person's lifetime and are never deleted (REG-8):
a correction becomes a new version and the old one stays. The audit trail is kept with the data
it describes.

Recipients: the school's staff who need the data for their duties, the pupil and their parents,
the school inspectorate and the ministry's information systems, as the law provides.

Your rights: to be informed, of access (export of your data), to rectification, to restriction of
processing and to portability. A request to erase is answered with the reasons above. You may
contact the school or the national data protection authority (ANSPDCP).
"""


def _tenant(session: Session, tenant_id: str) -> Tenant:
    tenant = session.get(Tenant, tenant_id)
    if tenant is None or tenant.id == PLATFORM_TENANT:
        raise NotFound("this institution has no privacy notice")
    return tenant


def _latest(session: Session, tenant_id: str) -> PrivacyNotice | None:
    return session.scalar(select(PrivacyNotice).where(PrivacyNotice.tenant_id == tenant_id)
                          .order_by(PrivacyNotice.version.desc()).limit(1))


def current_version(session: Session, tenant_id: str) -> int:
    return session.scalar(select(func.max(PrivacyNotice.version)).where(PrivacyNotice.tenant_id == tenant_id)) or 1


def _notice_dict(tenant: Tenant, row: PrivacyNotice | None, lang: str | None) -> dict:
    texts = ({"ro": row.text_ro, "en": row.text_en} if row else
             {"ro": TEMPLATE_RO.format(school=tenant.name), "en": TEMPLATE_EN.format(school=tenant.name)})
    data = {"tenant_id": tenant.id, "controller": tenant.name, "version": row.version if row else 1,
            "published_at": row.created_at if row else None, "default": row is None}
    if lang:
        data.update(lang=lang, text=texts[lang])
    else:
        data["texts"] = texts
    return data


def get_notice(session: Session, principal: Principal, *, lang: str | None = None) -> dict:
    if lang is not None and lang not in LANGUAGES:
        raise InvalidInput("lang must be ro or en")
    tenant = _tenant(session, principal.tenant_id)
    data = _notice_dict(tenant, _latest(session, tenant.id), lang)
    data["acknowledged"] = _acknowledged(session, principal.user_id, tenant.id, data["version"])
    return data


def _acknowledged(session: Session, user_id: str, tenant_id: str, version: int) -> bool:
    return session.scalar(select(PrivacyAcknowledgement.id).where(
        PrivacyAcknowledgement.user_id == user_id, PrivacyAcknowledgement.tenant_id == tenant_id,
        PrivacyAcknowledgement.version == version)) is not None


def publish(session: Session, emit, principal: Principal, *, text_ro: str, text_en: str) -> dict:
    require(principal, Role.SCHOOL_ADMIN)
    texts = {}
    for lang, text in (("ro", text_ro), ("en", text_en)):
        text = (text or "").strip()
        if not 200 <= len(text) <= MAX_TEXT:
            raise InvalidInput(f"text_{lang} must have between 200 and {MAX_TEXT} characters",
                               [{"field": f"text_{lang}", "message": "too short or too long"}])
        texts[lang] = text
    tenant = _tenant(session, principal.tenant_id)
    row = PrivacyNotice(tenant_id=tenant.id, version=current_version(session, tenant.id) + 1,
                        text_ro=texts["ro"], text_en=texts["en"], published_by=principal.user_id)
    session.add(row)
    session.flush()
    emit(session, "privacy_notice_published", entity_type="privacy_notice", entity_id=row.id,
         after={"version": row.version, "tenant_id": tenant.id, "characters_ro": len(row.text_ro),
                "characters_en": len(row.text_en)})
    return _notice_dict(tenant, row, None)


def acknowledge(session: Session, emit, principal: Principal, *, version: int) -> dict:
    if principal.is_integrator:
        raise Forbidden("an API client has no privacy notice to acknowledge")
    tenant = _tenant(session, principal.tenant_id)
    current = current_version(session, tenant.id)
    if version != current:
        raise Conflict(f"version {version} is not the current privacy notice (version {current}); read it again")
    if _acknowledged(session, principal.user_id, tenant.id, version):
        return {"version": version, "acknowledged": True}
    row = PrivacyAcknowledgement(user_id=principal.user_id, tenant_id=tenant.id, version=version)
    session.add(row)
    session.flush()
    emit(session, "privacy_notice_acknowledged", entity_type="user", entity_id=principal.user_id,
         after={"version": version, "tenant_id": tenant.id})
    return {"version": version, "acknowledged": True}


def pending(session: Session, user_id: str, tenant_id: str) -> dict | None:
    """`{"version": n}` while the current notice of the tenant is not acknowledged, else None."""
    if tenant_id == PLATFORM_TENANT:
        return None
    version = current_version(session, tenant_id)
    return None if _acknowledged(session, user_id, tenant_id, version) else {"version": version}


def acknowledgements_of(session: Session, user_id: str, tenant_id: str) -> list[dict]:
    rows = session.scalars(select(PrivacyAcknowledgement).where(
        PrivacyAcknowledgement.user_id == user_id, PrivacyAcknowledgement.tenant_id == tenant_id)
        .order_by(PrivacyAcknowledgement.version)).all()
    return [{"version": r.version, "acknowledged_at": r.created_at} for r in rows]
