"""Embedder service: product photos to vectors in Qdrant, over gRPC."""
