"""OpenTelemetry traces: context carried in NATS headers (FastStream's NatsTelemetryMiddleware),
over HTTP (OpenTelemetry's ASGI instrumentation, spans named by route) and across the outbox
(the context of the transaction that staged an event is stored with it, and the relay
publishes under it).

One ``TracerProvider`` per service runtime rather than the global one, as with the metrics'
registries: the demo and the tests run several services in one process. Spans leave the
process only when ``OTEL_EXPORTER_OTLP_ENDPOINT`` (or ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT``)
is set; the OTLP/HTTP exporter then reads the rest of its configuration (headers, timeout,
certificate) from the standard ``OTEL_EXPORTER_OTLP_*`` variables. Without it, trace context
is still made and carried in ``traceparent`` headers, and log lines carry the trace id
(``shared.logs``), but spans are not recorded (``build_tracer_provider``).

Nothing personal goes into a span: HTTP spans are named by route template, and the request's
path, query, full URL and client address are replaced by the route template (a path holds a
member id or a signed link's token; an address is a member's).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI
from faststream.nats.opentelemetry import NatsTelemetryMiddleware
from opentelemetry import propagate
from opentelemetry.instrumentation.asgi import OpenTelemetryMiddleware
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF, ParentBased
from opentelemetry.trace import Span
from starlette.routing import Match

ENDPOINT_VARIABLES = ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT")
# Probes and scrapes come every few seconds and say nothing about a request's path.
UNTRACED_URLS = "/health/live,/health/ready,/metrics"
TRACE_HEADERS = ("traceparent", "tracestate")
# Request attributes that can carry a member id, a token or a member's address.
_REDACTED_ATTRIBUTES = (
    "http.target",
    "http.url",
    "url.path",
    "url.full",
    "url.query",
    "net.peer.ip",
    "client.address",
    "http.client_ip",
)


def exporter_endpoint(environ: Mapping[str, str] | None = None) -> str | None:
    env = os.environ if environ is None else environ
    return next((env[name] for name in ENDPOINT_VARIABLES if env.get(name)), None)


def build_tracer_provider(service: str, environ: Mapping[str, str] | None = None) -> TracerProvider:
    """With an exporter: the SDK's default sampling (``OTEL_TRACES_SAMPLER``, else every
    trace). Without one, spans are not recorded unless a caller's sampled ``traceparent`` asks
    for it: ids are still made and passed on (log lines name them), at a third of the cost of
    recording spans that go nowhere (≈40 against ≈150 µs a publish, measured here)."""
    resource = Resource.create({"service.name": service})
    if exporter_endpoint(environ) is None:
        return TracerProvider(resource=resource, sampler=ParentBased(ALWAYS_OFF))
    # Imported only when configured: the exporter pulls in protobuf.
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    provider = TracerProvider(resource=resource)
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    return provider


def broker_middleware(provider: TracerProvider) -> NatsTelemetryMiddleware:
    """Consumes under the context in a message's ``traceparent``; publishes with the current
    one (a new trace when there is none)."""
    return NatsTelemetryMiddleware(tracer_provider=provider)


def instrument_app(app: FastAPI, provider: TracerProvider) -> None:
    """Server spans for a listener's requests, continuing a caller's ``traceparent``.

    OpenTelemetry's ASGI middleware, added as the app's outermost middleware, rather than
    ``FastAPIInstrumentor``: that one insists on Starlette's error middleware being outermost
    and gives up on our listeners, whose outermost layer logs unexpected errors without their
    messages (``shared.http.problems``). Spans are named by route template, as the FastAPI
    instrumentation names them."""

    def details(scope: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        template = _route_template(app, scope)
        return f"{scope.get('method', 'HTTP')} {template}", {"http.route": template}

    def redact(span: Span, scope: dict[str, Any]) -> None:
        if not span.is_recording():
            return
        template = _route_template(app, scope)
        for attribute in _REDACTED_ATTRIBUTES:
            span.set_attribute(attribute, template)

    app.add_middleware(
        OpenTelemetryMiddleware,
        excluded_urls=UNTRACED_URLS,
        default_span_details=details,
        server_request_hook=redact,
        tracer_provider=provider,
        exclude_spans=["receive", "send"],
    )


def _route_template(app: FastAPI, scope: dict[str, Any]) -> str:
    for route in app.router.routes:
        match, _ = route.matches(scope)
        if match is Match.FULL:
            return str(getattr(route, "path", "?"))
    return "(unmatched)"


def current_trace_headers() -> dict[str, str]:
    """``traceparent`` (and ``tracestate``) of the current span, or nothing outside a trace:
    stored with an event in the outbox so its publication continues the trace."""
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    return {key: value for key, value in carrier.items() if key in TRACE_HEADERS}
