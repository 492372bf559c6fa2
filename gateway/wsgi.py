"""gunicorn entry point: `gunicorn -c gateway/gunicorn_conf.py gateway.wsgi:app`."""
from gateway.app import create_app
from gateway.settings import GatewaySettings

app = create_app(GatewaySettings())
