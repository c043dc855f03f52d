"""Applying catalog events from the Redis stream, at least once, in order, losing nothing."""
