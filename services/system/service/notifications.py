"""`/api/notifications/...`: each user's own notifications."""
from svckit.service import rpc

from .. import notifications
from .base import SystemEntrypoints


class NotificationEntrypoints(SystemEntrypoints):
    @rpc
    def list_notifications(self, params: dict) -> dict:
        self.caller.require_login()
        with self.db.read() as s:
            return notifications.list_notifications(s, self.caller, params)

    @rpc
    def get_notification(self, pk: int) -> dict:
        self.caller.require_login()
        with self.db.read() as s:
            return notifications.render(notifications.get(s, self.caller, pk))

    @rpc
    def update_notification(self, pk: int, data: dict, partial: bool = False) -> dict:
        self.caller.require_login()
        with self.db.write() as s:
            return notifications.update(s, self.caller, pk, data, partial)

    @rpc
    def delete_notification(self, pk: int) -> None:
        self.caller.require_login()
        with self.db.write() as s:
            notifications.delete(s, self.caller, pk)

    @rpc
    def bulk_delete_notifications(self, body: dict) -> int:
        self.caller.require_login()
        with self.db.write() as s:
            return notifications.bulk_delete(s, self.caller, body)

    @rpc
    def read_all_notifications(self) -> dict:
        self.caller.require_login()
        with self.db.write() as s:
            return notifications.read_all(s, self.caller)

    @rpc
    def notification_options(self, detail: bool = False) -> dict:
        self.caller.require_login()
        return notifications.options(detail)
