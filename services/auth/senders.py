"""Where e-mails and text messages go: a local outbox file in development, real providers otherwise.

Messages are sent after the transaction that created them commits, never inside it.
"""
from __future__ import annotations

import json
import smtplib
import time
import urllib.request
from email.message import EmailMessage
from pathlib import Path
from typing import Protocol
from urllib.parse import unquote, urlparse

from services.kernel.logging import get_logger

log = get_logger(__name__)


class EmailSender(Protocol):
    def send(self, to: str, subject: str, body: str) -> None: ...


class SmsSender(Protocol):
    def send(self, to: str, text: str) -> None: ...


class OutboxFile:
    """Development sender: one JSON line per message in `<data>/outbox/<kind>.jsonl`."""

    def __init__(self, path: Path):
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)

    def _append(self, record: dict) -> None:
        with open(self.path, "a", encoding="utf-8") as fh:
            fh.write(json.dumps({**record, "at": time.time()}, ensure_ascii=False) + "\n")


class OutboxEmail(OutboxFile):
    def send(self, to: str, subject: str, body: str) -> None:
        self._append({"to": to, "subject": subject, "body": body})


class OutboxSms(OutboxFile):
    def send(self, to: str, text: str) -> None:
        self._append({"to": to, "text": text})


class SmtpEmail:
    def __init__(self, url: str, sender: str):
        self.url, self.sender = urlparse(url), sender

    def send(self, to: str, subject: str, body: str) -> None:
        msg = EmailMessage()
        msg["From"], msg["To"], msg["Subject"] = self.sender, to, subject
        msg.set_content(body)
        with smtplib.SMTP(self.url.hostname, self.url.port or 587, timeout=10) as smtp:
            if self.url.scheme.endswith("starttls"):
                smtp.starttls()
            if self.url.username:
                smtp.login(unquote(self.url.username), unquote(self.url.password or ""))
            smtp.send_message(msg)


class HttpSms:
    """A generic HTTPS SMS gateway: POST {"to", "text"} with a bearer token."""

    def __init__(self, url: str, token: str | None):
        if not url.startswith("https://"):
            raise ValueError("SMS_PROVIDER_URL must be https")
        self.url, self.token = url, token

    def send(self, to: str, text: str) -> None:
        req = urllib.request.Request(self.url, data=json.dumps({"to": to, "text": text}).encode(),
                                     headers={"Content-Type": "application/json",
                                              **({"Authorization": f"Bearer {self.token}"} if self.token else {})})
        with urllib.request.urlopen(req, timeout=10) as resp:  # noqa: S310 - https enforced above
            if resp.status >= 300:
                raise RuntimeError(f"SMS provider answered {resp.status}")
