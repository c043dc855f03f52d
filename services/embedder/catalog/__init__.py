"""Keeping the store in step with the catalog: upserts, attribute updates, deletes (`writer`)."""
