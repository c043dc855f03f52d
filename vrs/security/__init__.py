"""The rules that keep vrs safe to expose, beside `vrs.auth` (callers and roles) and `vrs.tls`.

- `bind_policy`: a server reachable from the network needs TLS and authentication
- `plaintext_secrets`: no password or API key over plaintext to another host unless asked for
- `redact`: URIs and text made safe to show in logs, errors and metrics
"""
