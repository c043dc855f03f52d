"""Catalog events: the versioned schema, and publishing them to the Redis stream."""
