"""The two gRPC services: embedder and search."""
