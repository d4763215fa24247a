"""Spans leave the process only when an OTLP endpoint is configured."""

from __future__ import annotations

from opentelemetry.sdk.trace import TracerProvider

from shared.tracing import build_tracer_provider, exporter_endpoint


def _records(provider: TracerProvider) -> bool:
    with provider.get_tracer("test").start_as_current_span("work") as span:
        return span.is_recording() and span.get_span_context().is_valid


def test_without_an_endpoint_nothing_is_recorded_but_ids_are_made() -> None:
    provider = build_tracer_provider("scheduler", {})
    assert "root:AlwaysOffSampler" in provider.sampler.get_description()
    assert not _records(provider)
    with provider.get_tracer("test").start_as_current_span("work") as span:
        assert span.get_span_context().is_valid  # passed on, and named in log lines
    assert exporter_endpoint({}) is None


def test_an_endpoint_turns_the_exporter_on() -> None:
    environ = {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector.invalid:4318"}
    assert exporter_endpoint(environ) == "http://collector.invalid:4318"
    provider = build_tracer_provider("notifier", environ)
    try:
        # No span is made here: one would be sent (to nowhere) when the provider shuts down.
        assert "root:AlwaysOffSampler" not in provider.sampler.get_description()
    finally:
        provider.shutdown()
