"""Callers and roles: who may call which vrs RPC (bearer tokens, client certificates)."""
