"""Prometheus metrics: one CollectorRegistry per process, the metric groups each part owns, and
the /metrics HTTP endpoint.

Metric objects are made unregistered (registry=None) by the part that updates them and are
registered into the process's registry when it is wired up: several servers in one process
(tests) never share a registry, and `GetStats` reads the very objects `/metrics` serves.
"""
