"""Delivery transports: an HTTP webhook (Korean SMS/messenger gateway shape) and a log.

A transport only sends and classifies the answer; the outbox decides what happens next.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

import httpx

from dashboard.notify.redact import mask_phones

log = logging.getLogger("anbu.notify")

# The request itself was refused: sending it again cannot help, a person must look.
PERMANENT_STATUSES = frozenset({400, 413, 422})


@dataclass(frozen=True)
class Message:
    """One outbox row as handed to a transport."""

    idempotency_key: str
    channel: str
    recipient: str
    payload: dict[str, Any]
    alert_id: int | None
    attempt: int
    created_at: datetime
    to: str | None = None  # a phone number resolved at delivery time (guardian calls)

    def body(self) -> dict[str, Any]:
        body = {
            "idempotency_key": self.idempotency_key,
            "channel": self.channel,
            "recipient": self.recipient,
            "alert_id": self.alert_id,
            "attempt": self.attempt,
            "created_at": self.created_at.isoformat(),
            "message": self.payload.get("message", ""),
            "data": self.payload,
        }
        if self.to:
            body["to"] = self.to
        return body


@dataclass(frozen=True)
class Outcome:
    """``ok``: delivered (2xx). Otherwise ``retry`` says whether trying again may help;
    ``transport_down`` says the gateway itself is unreachable (skip the rest of this pass)."""

    ok: bool
    retry: bool = True
    error: str | None = None
    transport_down: bool = False


class Transport(Protocol):
    name: str

    def send(self, message: Message) -> Outcome: ...


class LogTransport:
    """The demo transport: the message goes to the log, and counts as delivered."""

    name = "log"

    def __init__(self, logger: logging.Logger | None = None) -> None:
        self.logger = logger or log
        self.sent: list[Message] = []

    def send(self, message: Message) -> Outcome:
        self.logger.info(
            "notify %s → %s [%s]: %s",
            message.channel,
            message.recipient,
            message.idempotency_key,
            message.payload.get("message", json.dumps(message.payload, ensure_ascii=False)),
        )
        self.sent.append(message)
        return Outcome(ok=True)


class WebhookTransport:
    """JSON POST to the gateway with ``Idempotency-Key`` and a bearer token.

    Only a 2xx answer counts as delivered. The gateway must treat a repeated key as the same
    message: a worker that crashes between the 2xx and marking the row sends it again.
    """

    name = "webhook"

    def __init__(
        self,
        url: str,
        token: str = "",
        *,
        timeout_s: float = 10.0,
        client: httpx.Client | None = None,
    ) -> None:
        if not url:
            raise ValueError("the webhook transport needs ANBU_NOTIFY_WEBHOOK_URL")
        self.url = url
        self._token = token
        self._client = client or httpx.Client(timeout=timeout_s, follow_redirects=False)

    def send(self, message: Message) -> Outcome:
        headers = {
            "Idempotency-Key": message.idempotency_key,
            "Content-Type": "application/json; charset=utf-8",
            "User-Agent": "anbu-notify/1",
        }
        if self._token:
            headers["Authorization"] = f"Bearer {self._token}"
        body = json.dumps(message.body(), ensure_ascii=False).encode("utf-8")
        try:
            response = self._client.post(self.url, content=body, headers=headers)
        except httpx.TimeoutException as exc:
            error = f"timeout: {exc.__class__.__name__}"
            return Outcome(ok=False, error=error, transport_down=True)
        except httpx.TransportError as exc:
            return Outcome(ok=False, error=f"unreachable: {exc}", transport_down=True)
        if 200 <= response.status_code < 300:
            return Outcome(ok=True)
        # Masked before the cut: a number cut short at the 200th character no longer looks
        # like one (the outbox masks what it stores again, whatever the transport).
        error = f"HTTP {response.status_code}: {mask_phones(response.text)[:200]}"
        if response.status_code in PERMANENT_STATUSES:
            return Outcome(ok=False, retry=False, error=error)
        # 5xx, 429, 408 and also 401/403/404: a configuration or gateway problem that someone
        # can fix; keep the message until then rather than drop it.
        return Outcome(ok=False, error=error, transport_down=response.status_code >= 500)

    def close(self) -> None:
        self._client.close()
