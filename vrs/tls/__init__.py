"""TLS for vrs gRPC servers and clients: certificate files, checked and re-read on change."""
