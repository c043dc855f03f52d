"""Measuring retrieval quality: shop-photo query sets and the metrics `vrs eval` reports."""
