"""Measuring retrieval quality: query sets (shop photos, items in scenes) and the metrics `vrs eval`
reports."""
