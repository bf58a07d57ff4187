"""The vendor HTTP API (FastAPI): ``POST /v1/events``, health, readiness and metrics.

The request body is read and parsed here rather than by FastAPI so that the size limit is
enforced while reading (a chunked upload cannot bypass Content-Length) and so that one bad event
is reported per index instead of failing the whole batch with FastAPI's own 422.
"""

from __future__ import annotations

import json
import logging
import time
from functools import cache
from typing import Any

import anyio
import anyio.to_thread
from fastapi import FastAPI, HTTPException, Request, Response, Security
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse
from fastapi.security import APIKeyHeader
from pydantic import BaseModel, Field
from sqlalchemy import Engine, text
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import Headers, MutableHeaders
from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from dashboard.clock import now as system_now
from dashboard.ingest.apikeys import vendor_for_key
from dashboard.ingest.core import (
    Clock,
    IngestResult,
    ingest_events,
    tune_engine_for_ingest,
)
from dashboard.ingest.deadletters import record_message
from dashboard.ingest.events import AnyEvent
from dashboard.ingest.metrics import IngestMetrics
from dashboard.ingest.payload import (
    MAX_BODY_BYTES,
    MAX_DEPTH,
    MAX_EVENTS,
    PayloadError,
    decode_batch,
    too_large,
)
from dashboard.ops.logs import (
    REQUEST_ID_HEADER,
    new_request_id,
    request_context,
    valid_request_id,
)
from dashboard.rules.config import RulesConfigError

log = logging.getLogger(__name__)

API_VERSION = "1.0"
RETRY_AFTER_S = "5"
# The database cannot take the batch now; the vendor should retry: a 503, never a 500. A pool
# timeout is every pooled connection busy for ``pool_timeout`` (30 s): a server swamped with
# concurrent batches.
UNAVAILABLE = (OperationalError, InterfaceError, PoolTimeout, RulesConfigError)
# /readyz answers within this many seconds even when the database hangs (a dropped packet, a
# full pool): a load balancer's probe must not time out waiting for it.
READY_TIMEOUT_S = 2.0

DESCRIPTION = f"""\
Vendors send device events to Anbu (안부), the control dashboard of municipal smart-care programs.
One key per vendor (header `X-API-Key`). Each event is validated on its own: valid events in a
batch are stored even when others are rejected, and the reply says why each rejected event was
refused. `event_id` is the idempotency key: resending an event is safe and is counted under
`duplicates`. A `ts` should carry its offset (or `Z`); one without is read in the vendor's
declared time zone (default Asia/Seoul), named in the reply's `timezone`. A `ts` the device clock
cannot have right (over 5 minutes ahead, before 2000) rejects the event, except an `sos`: it is
stored at the receive time and listed in the reply's `clock_corrected`. Numbers must be JSON
numbers (`"watts": "50"` is refused); bodies are UTF-8 JSON (UTF-16 and UTF-32 are refused)
and may nest at most {MAX_DEPTH} levels. See
docs/ingest-api.md for the full contract.
"""


class EventBatch(BaseModel):
    """The request body. Documentation only: events are validated one by one at ingest."""

    events: list[AnyEvent] = Field(max_length=MAX_EVENTS)


class RejectedEvent(BaseModel):
    index: int = Field(description="Position of the event in the request's events list (0-based)")
    reason: str = Field(description="Which field is wrong and why, e.g. 'watts: ...'")


class IngestReply(BaseModel):
    accepted: int = Field(description="Events stored by this request")
    duplicates: int = Field(description="Events already stored (same vendor and event_id)")
    rejected: list[RejectedEvent] = Field(description="Events refused, with the reason for each")
    timezone: str | None = Field(
        default=None,
        description="The vendor's declared time zone (IANA name), in which a ts without an "
        "offset was read; null when such times are refused",
    )
    naive_ts: int = Field(
        default=0, description="Accepted or duplicate events whose ts had no offset"
    )
    clock_corrected: list[RejectedEvent] = Field(
        default_factory=list,
        description="Accepted or duplicate sos events whose ts the device clock cannot have "
        "right (more than 5 minutes ahead, or before 2000): stored at the server's receive "
        "time, the device's ts kept as device_ts; the reason says why. Other types are rejected",
    )


class ErrorReply(BaseModel):
    detail: str


class HealthReply(BaseModel):
    status: str
    database: str


class LiveReply(BaseModel):
    status: str = Field(description='Always "ok": the process answers')


class ReadyReply(BaseModel):
    status: str = Field(description='"ready" or "not ready"')
    database: str = Field(description='"ok", or why the database check failed')


api_key_header = APIKeyHeader(
    name="X-API-Key", auto_error=False, description="The vendor's key (anbu_xxxxxxxx_...)"
)

_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorReply, "description": "Missing, unknown or revoked API key"},
    413: {
        "model": ErrorReply,
        "description": f"Body over {MAX_BODY_BYTES} bytes or over {MAX_EVENTS} events",
    },
    422: {
        "model": ErrorReply,
        "description": 'Not UTF-8, not JSON, not an object {"events": [...]}, '
        f"or nested more than {MAX_DEPTH} levels deep",
    },
    503: {"model": ErrorReply, "description": "Temporarily unavailable; retry (Retry-After)"},
}


def create_app(engine: Engine | None = None, *, clock: Clock = system_now) -> FastAPI:
    """The ingest app; without ``engine`` it connects to the configured database on first use.

    Its metrics are its own (``app.state.metrics``), never the process-wide registry.
    """
    app = FastAPI(
        title="Anbu ingest API",
        version=API_VERSION,
        description=DESCRIPTION,
        docs_url="/docs",
        redoc_url=None,
    )
    metrics = IngestMetrics()
    app.state.metrics = metrics
    app.add_middleware(RequestIdMiddleware)

    @cache
    def get_engine() -> Engine:
        if engine is not None:
            return tune_engine_for_ingest(engine)
        from dashboard.db.engine import make_engine
        from dashboard.settings import get_settings

        return tune_engine_for_ingest(make_engine(get_settings().resolved_database_url))

    def lookup_vendor(key: str | None) -> str | None:
        with get_engine().connect() as conn:
            return vendor_for_key(conn, key)

    def store(vendor: str, events: list[Any]) -> IngestResult:
        with get_engine().begin() as conn:
            return ingest_events(conn, vendor, events, now=clock())

    def keep_refused(vendor: str, body: bytes, reason: str) -> None:
        """A body refused as a whole goes to the dead letters too (best effort: the vendor
        gets its 422 whether or not the database can take it)."""
        try:
            with get_engine().begin() as conn:
                record_message(
                    conn,
                    source="http",
                    vendor=vendor,
                    topic=None,
                    reason=reason,
                    payload=body,
                    now=clock(),
                )
            metrics.dead_letters.labels(vendor=vendor).inc()
        except Exception as exc:  # the reply matters more than the copy
            log.error("could not keep a dead letter for vendor %s: %s", vendor, exc)

    @app.post(
        "/v1/events",
        response_model=IngestReply,
        responses=_ERRORS,
        summary="Send a batch of device events",
        openapi_extra={
            "requestBody": {
                "required": True,
                "content": {
                    "application/json": {"schema": {"$ref": "#/components/schemas/EventBatch"}}
                },
            }
        },
    )
    async def post_events(
        request: Request, api_key: str | None = Security(api_key_header)
    ) -> IngestReply:
        try:
            reply = await handle_events(request, api_key)
        except HTTPException as exc:
            metrics.reply(exc.status_code)
            raise
        metrics.reply(200)
        return reply

    async def handle_events(request: Request, api_key: str | None) -> IngestReply:
        try:
            vendor = await run_in_threadpool(lookup_vendor, api_key)
        except UNAVAILABLE as exc:
            raise _unavailable(exc) from None
        if vendor is None:
            raise HTTPException(401, "missing or invalid X-API-Key")
        body = await _read_limited(request, vendor)
        try:
            events = decode_batch(body)
        except PayloadError as exc:
            if not exc.too_large:
                await run_in_threadpool(keep_refused, vendor, body, str(exc))
            raise _http_error(exc) from None
        started = time.perf_counter()
        try:
            result = await run_in_threadpool(store, vendor, events)
        except UNAVAILABLE as exc:
            raise _unavailable(exc) from None
        metrics.batch_seconds.observe(time.perf_counter() - started)
        metrics.batch(vendor, result)
        if result.rejected:
            log.info(
                "vendor %s: %d accepted, %d duplicates, %d rejected (first: %s)",
                vendor,
                result.accepted,
                result.duplicates,
                len(result.rejected),
                result.rejected[0][1],
            )
        return IngestReply(
            accepted=result.accepted,
            duplicates=result.duplicates,
            rejected=[RejectedEvent(index=i, reason=r) for i, r in result.rejected],
            timezone=result.timezone,
            naive_ts=result.naive_ts,
            clock_corrected=[RejectedEvent(index=i, reason=r) for i, r in result.clock_corrected],
        )

    @app.get(
        "/v1/health",
        response_model=HealthReply,
        responses={503: {"model": ErrorReply}},
        summary="Liveness and database reachability",
    )
    def health() -> HealthReply:
        try:
            with get_engine().connect() as conn:
                conn.execute(text("SELECT 1"))
        except Exception as exc:  # any failure means "not ready", with the reason logged
            raise _unavailable(exc) from None
        return HealthReply(status="ok", database="ok")

    @app.get(
        "/healthz",
        response_model=LiveReply,
        summary="Liveness: the process answers (no database access)",
    )
    def healthz() -> LiveReply:
        return LiveReply(status="ok")

    def ping_database() -> None:
        with get_engine().connect() as conn:
            conn.execute(text("SELECT 1"))

    @app.get(
        "/readyz",
        response_model=ReadyReply,
        responses={503: {"model": ReadyReply, "description": "The database is not reachable"}},
        summary="Readiness: the database answers SELECT 1 within 2 s",
    )
    async def readyz() -> JSONResponse:
        try:
            # Abandoned on timeout: a thread stuck in connect() must not hold the reply.
            with anyio.fail_after(READY_TIMEOUT_S):
                await anyio.to_thread.run_sync(ping_database, abandon_on_cancel=True)
        except TimeoutError:
            return _not_ready(f"no answer within {READY_TIMEOUT_S:g} s")
        except Exception as exc:  # any failure means "not ready"; details go to the log only
            log.error("readiness check failed: %s", exc)
            return _not_ready(f"unreachable ({exc.__class__.__name__})")
        return JSONResponse(ReadyReply(status="ready", database="ok").model_dump())

    @app.get(
        "/metrics",
        summary="Prometheus metrics of this process (text exposition format)",
        response_class=Response,
        responses={200: {"content": {"text/plain": {}}, "description": "Prometheus text format"}},
    )
    def prometheus_metrics() -> Response:
        body, content_type = metrics.exposition()
        return Response(body, media_type=content_type)

    app.openapi = lambda: _openapi(app)  # type: ignore[method-assign]
    return app


class RequestIdMiddleware:
    """An id per request: the client's ``X-Request-ID`` when it is a valid one (1–128 of
    ``A-Z a-z 0-9 . _ : -``), else a new one; echoed in the reply's header and carried by every
    log line of the request (``dashboard.ops.logs``). Plain ASGI: no extra task per request."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        sent = Headers(scope=scope).get(REQUEST_ID_HEADER)
        rid = sent if valid_request_id(sent) else new_request_id()

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message)[REQUEST_ID_HEADER] = rid
            await send(message)

        with request_context(rid):
            await self.app(scope, receive, send_with_id)


# nginx's code for "the client closed the request": no reply reaches anyone, the metric counts it
CLIENT_GONE = 499


async def _read_limited(request: Request, vendor: str) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        raise _http_error(too_large(f"body of {declared} bytes"))
    chunks, size = [], 0
    try:
        async for chunk in request.stream():
            size += len(chunk)
            if size > MAX_BODY_BYTES:  # also catches chunked uploads and lying Content-Length
                raise _http_error(too_large("body"))
            chunks.append(chunk)
    except ClientDisconnect:
        # A vendor's upload that timed out half-way: nothing was stored, and it is worth one
        # line rather than the traceback an unhandled exception logs at ERROR.
        log.warning(
            "vendor %s: client disconnected after %d of %s bytes of the body; nothing stored",
            vendor,
            size,
            declared if declared is not None else "(chunked)",
        )
        raise HTTPException(CLIENT_GONE, "client disconnected before the end of the body") from None
    return b"".join(chunks)


def _not_ready(reason: str) -> JSONResponse:
    # The reason names the kind of failure only: the endpoint has no key, and driver messages
    # can name hosts and users. The full message is in the server's log.
    reply = ReadyReply(status="not ready", database=reason)
    return JSONResponse(reply.model_dump(), status_code=503, headers={"Retry-After": RETRY_AFTER_S})


def _http_error(exc: PayloadError) -> HTTPException:
    return HTTPException(413 if exc.too_large else 422, str(exc))


def _unavailable(exc: Exception) -> HTTPException:
    # A database outage, or a broken data/rules.toml: storing without evaluating is not allowed.
    log.error("ingest unavailable: %s", exc)
    return HTTPException(
        503,
        "ingest temporarily unavailable; retry later (resending the same events is safe)",
        headers={"Retry-After": RETRY_AFTER_S},
    )


def _openapi(app: FastAPI) -> dict[str, Any]:
    """FastAPI's document plus the event schemas the hand-parsed body follows."""
    if app.openapi_schema:
        return app.openapi_schema
    schema = get_openapi(
        title=app.title, version=app.version, description=app.description, routes=app.routes
    )
    batch = EventBatch.model_json_schema(ref_template="#/components/schemas/{model}")
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    components.update(batch.pop("$defs", {}))
    components["EventBatch"] = batch
    schema["components"]["schemas"] = dict(sorted(components.items()))
    app.openapi_schema = schema
    return schema


def openapi_document() -> str:
    """The OpenAPI document as committed in docs/openapi.json."""
    return json.dumps(create_app().openapi(), indent=2, ensure_ascii=False) + "\n"
