"""Shared infrastructure for the services and the gateway (no domain code)."""
