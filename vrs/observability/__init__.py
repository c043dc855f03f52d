"""What a running vrs process tells its operators.

- `logs`: one JSON object per line, UTC, with the active trace, secrets removed
- `tracing`: OpenTelemetry traces (OTLP export when configured, no-op otherwise)
- `metrics`: Prometheus metrics, one registry per process, and the /metrics endpoint
"""
