"""`POST /api/webhook/<endpoint>/`: no login; the endpoint's token or HMAC is checked."""
from svckit.service import rpc

from .. import webhooks
from .base import SystemEntrypoints


class WebhookEntrypoints(SystemEntrypoints):
    @rpc
    def receive_webhook(self, endpoint: str, body_b64: str, headers: dict, host: str) -> int:
        with self.db.write() as s:
            return webhooks.receive(s, self.caller, endpoint, body_b64, headers, host,
                                    self.settings.WEBHOOK_MAX_BYTES)
