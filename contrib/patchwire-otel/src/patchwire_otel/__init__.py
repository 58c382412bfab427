"""OpenTelemetry traces and metrics for patchwire calls (GenAI semantic conventions).

Installed, the plugin in ``patchwire_otel.plugin`` turns every call's lifecycle events into
spans and metrics on the application's global tracer and meter providers. Nothing here is
imported by the entry point until the first event, so discovery stays cheap.
"""
