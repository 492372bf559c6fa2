"""`/api/error-report/...`, and the `error.logged` events of every process that become
reports (`ERROR_REPORT_SOURCES`: the processes whose events are kept)."""
from nameko.events import SERVICE_POOL

from svckit.layout import service_names
from svckit.service import event_handler, rpc

from .. import errorreports, events
from .base import SystemEntrypoints


class ErrorReportEntrypoints(SystemEntrypoints):
    def on_error_logged(self, event: dict):
        """An `error.logged` event of any process: a report, and a notification per staff
        user (asked of the users service before the transaction opens, DESIGN rule 5)."""
        staff = self.users.staff_user_ids()
        with self.db.write() as s:
            errorreports.record_error(s, event, staff)

    @rpc
    def list_error_reports(self, params: dict) -> dict:
        self.caller.require_staff()
        with self.db.read() as s:
            return errorreports.list_error_reports(s, params)

    @rpc
    def get_error_report(self, pk: int) -> dict:
        self.caller.require_staff()
        with self.db.read() as s:
            return errorreports.render(errorreports.get(s, pk))

    @rpc
    def update_error_report(self, pk: int, data: dict, partial: bool = False) -> dict:
        """Every field is read-only: the report comes back unchanged."""
        return self.get_error_report(pk)

    @rpc
    def delete_error_report(self, pk: int) -> None:
        self.caller.require_staff()
        with self.db.write() as s:
            errorreports.delete(s, self.caller, pk)

    @rpc
    def bulk_delete_error_reports(self, body: dict) -> int:
        self.caller.require_staff()
        with self.db.write() as s:
            return errorreports.bulk_delete(s, self.caller, body)


# every process that logs errors: the gateway and each service (subscriptions are made when
# the class is defined, before any settings are read)
KNOWN_SOURCES = ("gateway", *service_names())


def _subscriber(source: str):
    """The handler of `source`'s `error.logged` events (one per source: nameko subscribes
    an entrypoint to one service's events); events of a source that ERROR_REPORT_SOURCES
    leaves out are dropped."""
    @event_handler(source, events.ERROR_LOGGED, handler_type=SERVICE_POOL)
    def handle(self, event):
        if source in self.settings.error_report_sources():
            self.on_error_logged(event)
    handle.__name__ = f"on_{source}_error"
    return handle


for _source in KNOWN_SOURCES:
    setattr(ErrorReportEntrypoints, f"on_{_source}_error", _subscriber(_source))
