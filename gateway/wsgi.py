"""gunicorn entry point: `gunicorn -c gateway/gunicorn_conf.py gateway.wsgi:app`."""
from gateway.app import create_app
from gateway.settings import GatewaySettings
from svckit import tracing

_settings = GatewaySettings()
tracing.setup(_settings, "gateway")  # in each worker, after the fork (svckit.tracing)
app = create_app(_settings)
