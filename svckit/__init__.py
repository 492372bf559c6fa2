"""Shared infrastructure for the services and the gateway (no domain code)."""
import warnings

# nameko imports eventlet, which warns on import; we know, and keep its use contained
warnings.filterwarnings("ignore", message=r"\s*Eventlet is deprecated")
