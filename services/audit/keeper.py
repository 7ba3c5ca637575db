"""The log keeper: runs the sequencer on every batch, signs checkpoints on time, hands them
to the witnesses, and refuses to sign after a rollback of the database."""
from __future__ import annotations

import time
from typing import Sequence

import eventlet
from eventlet.event import Event as GreenEvent
from prometheus_client import Gauge
from sqlalchemy import select

from services.kernel.events import Envelope
from services.kernel.logging import get_logger
from services.kernel.nameko_support import Database, Store

from . import log, merkle, notes
from .config import AuditSettings, audit_settings, load_public_key, load_signing_key
from .models import SignedCheckpoint
from .witness import make_witnesses

logger = get_logger(__name__)
LOG_SIZE = Gauge("audit_log_size", "Entries in the audit Merkle log")
CHECKPOINT_SIZE = Gauge("audit_checkpoint_size", "Entries covered by the latest signed checkpoint")
CHECKPOINT_AT = Gauge("audit_checkpoint_issued_timestamp_seconds", "When the latest checkpoint was signed")
UNCOVERED = Gauge("audit_log_uncovered_entries", "Entries not yet covered by a signed checkpoint")
HALTED = Gauge("audit_log_halted", "1 when the log refuses to sign (rollback or fork detected)")


class LogKeeper:
    def __init__(self, sessions, settings: AuditSettings, wake_relay=lambda: None):
        self.sessions = sessions
        self.settings = settings
        self.signer = log.Signer(settings.origin, load_signing_key(settings))
        self.public_key = notes.raw_public_key(self.signer.key.public_key())
        self.witnesses = make_witnesses(settings.witness_directory(), settings.witness_url)
        self._wake_relay = wake_relay
        self._witness_wake = GreenEvent()
        self._published: notes.Checkpoint | None = None  # the largest checkpoint a witness holds
        self.halted: str | None = None

    @property
    def verifier_key(self) -> str:
        return notes.verifier_key(self.signer.origin, self.public_key)

    def parse(self, note: str) -> notes.Checkpoint:
        return notes.verify_checkpoint(note, self.signer.origin, self.public_key, self.signer.origin)

    # -- start ---------------------------------------------------------------------------
    def startup(self) -> None:
        """Sequence entries stored before the log existed; compare the tree with the witnesses."""
        with self.sessions.begin() as s:
            legacy = log.sequence_legacy(s)
        if legacy:
            logger.info("audit.legacy_entries_sequenced", entries=legacy)
        for witness in self.witnesses:
            note = witness.latest()
            if note is None:
                continue
            try:
                cp = self.parse(note)
            except notes.NoteError as exc:
                logger.error("audit.witness_copy_invalid", witness=witness.location, error=str(exc))
                continue
            if self._published is None or cp.size > self._published.size:
                self._published = cp
        if self._published is not None:
            with self.sessions.begin(readonly=True) as s:
                state = log.load_state(s)
                problem = None
                if self._published.size > state.size:
                    problem = f"a witness holds a checkpoint of {self._published.size} entries, the log has {state.size}"
                elif merkle.root_at(self._published.size, log.node_getter(s)) != self._published.root:
                    problem = f"the log's tree at size {self._published.size} differs from the witnessed checkpoint"
            if problem:
                self.halted = problem
                logger.critical("audit.rollback_detected", detail=problem)

    # -- hot path ------------------------------------------------------------------------
    def ingest(self, envelopes: Sequence[Envelope]) -> int:
        envelopes = [e for e in envelopes if e.type != log.CHECKPOINT_EVENT]  # our own checkpoints
        if not envelopes:
            return 0
        signed = None
        with self.sessions.begin() as s:
            state, fresh = log.append(s, envelopes)
            now = time.time()
            if self._due(state, now):
                signed = self._sign(s, state, now)
        self._after_sign(signed)
        self._gauges(state)
        return fresh

    def tick(self) -> None:
        """Sign what the last batches left uncovered once the interval has passed."""
        with self.sessions.begin(readonly=True) as s:
            state = log.load_state(s)
        now = time.time()
        self._gauges(state)
        if not self._due(state, now):
            return
        signed = None
        with self.sessions.begin() as s:
            log.take_lock(s)
            state = log.load_state(s)
            if self._due(state, now):
                signed = self._sign(s, state, now)
        self._after_sign(signed)

    def _gauges(self, state: log.State) -> None:
        LOG_SIZE.set(state.size)
        CHECKPOINT_SIZE.set(state.checkpoint_size)
        CHECKPOINT_AT.set(state.checkpoint_at)
        UNCOVERED.set(state.size - state.checkpoint_size)
        HALTED.set(1 if self.halted else 0)

    def _due(self, state: log.State, now: float) -> bool:
        return self.halted is None and log.checkpoint_due(
            state, now, self.settings.checkpoint_every_entries, self.settings.checkpoint_every_seconds)

    def _sign(self, session, state: log.State, now: float) -> dict | None:
        try:
            return log.sign_checkpoint(session, state, self.signer, now, published=lambda: self._published)
        except log.ForkRefused as exc:
            self.halted = str(exc)
            logger.critical("audit.rollback_detected", detail=str(exc))
            return None

    def _after_sign(self, signed: dict | None) -> None:
        if signed is None:
            return
        self._wake_relay()
        if not self._witness_wake.ready():
            self._witness_wake.send(True)

    # -- witnesses -------------------------------------------------------------------------
    def publish_to_witnesses(self) -> None:
        if not self.witnesses:
            return
        with self.sessions.begin(readonly=True) as s:
            latest = s.execute(select(SignedCheckpoint.size, SignedCheckpoint.note)
                               .order_by(SignedCheckpoint.id.desc()).limit(1)).first()
        if latest is None:
            return
        size, note = latest

        def proof_for(old: int, new: int):
            with self.sessions.begin(readonly=True) as s:
                return merkle.consistency_proof(old, new, log.node_getter(s))
        for witness in self.witnesses:
            try:
                witness.add(note, size, proof_for, self.parse)
            except Exception as exc:  # noqa: BLE001 - a witness outage must not stop the log
                logger.warning("audit.witness_failed", witness=witness.location, error=str(exc)[:200])
                continue
        cp = self.parse(note)
        if self._published is None or cp.size > self._published.size:
            self._published = cp

    def run(self, stopped) -> None:
        interval = min(self.settings.checkpoint_every_seconds / 4, 0.25)
        while not stopped():
            try:
                self.tick()
                with eventlet.Timeout(interval, False):
                    self._witness_wake.wait()
                if self._witness_wake.ready():
                    self._witness_wake.reset()
                    self.publish_to_witnesses()
            except Exception as exc:  # noqa: BLE001 - a database hiccup; never let the keeper die
                logger.error("audit.keeper_error", error=str(exc)[:300])
                eventlet.sleep(1.0)


class AuditDatabase(Database):
    """The audit database plus its log keeper (sequencer, checkpoints, witnesses)."""

    def setup(self):
        super().setup()
        self.keeper = LogKeeper(self.sessions, audit_settings(), self._wake_relay)
        self._stopping = False

    def start(self):
        super().start()
        self.keeper.startup()
        self.container.spawn_managed_thread(lambda: self.keeper.run(lambda: self._stopping),
                                            identifier="audit.keeper")

    def stop(self):
        self._stopping = True
        super().stop()

    def get_dependency(self, worker_ctx) -> Store:
        store = super().get_dependency(worker_ctx)
        store.keeper = self.keeper
        return store


def public_key_from_settings(settings: AuditSettings) -> bytes:
    return load_public_key(settings.public_key_path())
