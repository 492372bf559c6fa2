"""The system service: project codes, flags, version and license information, and (as
they land) the rest of InvenTree's smaller General endpoints."""
import base64
import logging
import time

from nameko.events import SERVICE_POOL
from nameko.timer import timer
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from svckit import config
from svckit.context import SYSTEM, Caller
from svckit.errors import ApiError, PermissionDenied
from svckit.fields import options_document
from svckit.importing import ImportAdapter, ImportTargets
from svckit.listing import run_list
from svckit.service import (
    CallerProvider,
    ImportTargetMixin,
    ServiceBase,
    Store,
    event_handler,
    rpc,
)
from svckit.signed_rpc import RpcProxy

from . import (
    about,
    actions,
    currency,
    customunits,
    generate,
    mail,
    news,
    plugins,
    projectcodes,
    reports,
    search,
    units,
    webhooks,
)
from .models import (
    custom_units,
    error_reports,
    news_entries,
    notifications,
    project_codes,
    receipts,
    store,
)

log = logging.getLogger(__name__)


class Service(ImportTargetMixin, ServiceBase):
    name = "system"
    db = Store(store)
    caller: Caller = CallerProvider()
    users = RpcProxy("users")

    # ------------------------------------------------------------ about

    @rpc
    def version(self) -> dict:
        self._staff()
        return about.version_document()

    @rpc
    def version_text(self) -> dict:
        self._staff()
        return about.version_text()

    @rpc
    def licenses(self) -> dict:
        self._login()
        return about.licenses()

    @rpc
    def icon_packs(self) -> dict:
        return about.icon_packs()

    @rpc
    def flags(self, query: dict) -> list:
        return about.flags(query, self.caller.is_superuser)

    @rpc
    def flag(self, key: str, query: dict) -> dict:
        return about.one_flag(key, query, self.caller.is_superuser)

    # ------------------------------------------------------------ project codes

    def _owners(self, pks) -> dict:
        pks = sorted({int(p) for p in pks if p is not None})
        return self.users.owners(pks) if pks else {}

    def _render_codes(self, rows: list) -> list:
        owners = self._owners(r["responsible"] for r in rows)
        return [projectcodes.render(r, owners) for r in rows]

    @rpc
    def list_project_codes(self, params: dict) -> dict:
        self._login()
        with self.db.read() as s:
            answer = run_list(s, select(project_codes), params, search=projectcodes.SEARCH,
                              ordering=projectcodes.COLUMNS,
                              default_order=[project_codes.c.id])
        answer["results"] = self._render_codes(answer["results"])
        return answer

    @rpc
    def export_project_codes(self, params: dict) -> dict:
        return self._export(projectcodes.FIELDS, self.list_project_codes, params)

    @rpc
    def get_project_code(self, pk: int) -> dict:
        self._login()
        with self.db.read() as s:
            row = projectcodes.get(s, pk)
        return self._render_codes([row])[0]

    def _checked(self, data, partial=False) -> dict:
        """Field checks and the owner lookup, before any transaction opens (DESIGN rule 5)."""
        cleaned = projectcodes.clean(data, partial)
        if cleaned.get("responsible") is not None:
            projectcodes.check_owner(cleaned, self._owners([cleaned["responsible"]]))
        return cleaned

    @rpc
    def create_project_code(self, data: dict) -> dict:
        self._staff()
        cleaned = self._checked(data)
        with self.db.write() as s:
            pk = projectcodes.create(s, self.caller, cleaned)
        return self.get_project_code(pk)

    @rpc
    def update_project_code(self, pk: int, data: dict, partial: bool = False) -> dict:
        self._staff()
        cleaned = self._checked(data, partial)
        with self.db.write() as s:
            projectcodes.update(s, self.caller, pk, cleaned)
        return self.get_project_code(pk)

    @rpc
    def delete_project_code(self, pk: int) -> None:
        self._staff()
        with self.db.write() as s:
            projectcodes.delete(s, self.caller, pk)

    @rpc
    def project_code_options(self, detail: bool = False) -> dict:
        return self._options("Project Code", projectcodes.FIELDS, detail)

    @rpc
    def project_code_metadata(self, pk: int) -> dict:
        self._login()
        with self.db.read() as s:
            return {"metadata": projectcodes.get(s, pk)["metadata"]}

    @rpc
    def set_project_code_metadata(self, pk: int, body: dict, partial: bool) -> dict:
        """Writes need Django's `change_projectcode`, which no role grants: superusers only
        (SEMANTICS §1.2, §1.12)."""
        self._login()
        if not self.caller.is_superuser:
            raise PermissionDenied()
        with self.db.write() as s:
            return {"metadata": projectcodes.set_metadata(s, self.caller, pk, body, partial)}

    # ------------------------------------------------------------ custom units

    @rpc
    def list_custom_units(self, params: dict) -> dict:
        self._login()
        with self.db.read() as s:
            return run_list(s, select(custom_units), params, search=customunits.SEARCH,
                            ordering=customunits.COLUMNS, default_order=[custom_units.c.id],
                            render=customunits.render)

    @rpc
    def export_custom_units(self, params: dict) -> dict:
        return self._export(units.FIELDS, self.list_custom_units, params)

    @rpc
    def get_custom_unit(self, pk: int) -> dict:
        self._login()
        with self.db.read() as s:
            return customunits.render(customunits.get(s, pk))

    @rpc
    def create_custom_unit(self, data: dict) -> dict:
        self._staff()
        with self.db.write() as s:
            pk = customunits.create(s, self.caller, customunits.check(s, data))
            return customunits.render(customunits.get(s, pk))

    @rpc
    def update_custom_unit(self, pk: int, data: dict, partial: bool = False) -> dict:
        self._staff()
        with self.db.write() as s:
            return customunits.update(s, self.caller, pk, data, partial)

    @rpc
    def delete_custom_unit(self, pk: int) -> None:
        self._staff()
        with self.db.write() as s:
            customunits.delete(s, self.caller, pk)

    @rpc
    def custom_unit_options(self, detail: bool = False) -> dict:
        return self._options("Custom Unit", units.FIELDS, detail)

    @rpc
    def all_units(self) -> dict:
        """`GET /api/units/all/`, always from the units stored now (every process agrees)."""
        self._login()
        with self.db.read() as s:
            return customunits.all_units(s)

    # ------------------------------------------------------------ generators

    @rpc
    def generate_batch_code(self, data: dict) -> dict:
        self._login()
        return generate.batch_code(data)

    @rpc
    def generate_serial_number(self, data: dict) -> dict:
        self._login()
        with self.db.write() as s:
            return generate.reserve_serials(s, self.caller, data)

    # ------------------------------------------------------------ plugins

    @rpc
    def action(self, body: dict) -> dict:
        self._login()
        return actions.action(self.caller, body)

    @rpc
    def locate(self, body: dict) -> dict:
        self._login()
        return actions.locate(self.caller, body)

    @rpc
    def active_plugins(self) -> list:
        return [plugins.describe(p) for p in plugins.active().values()]

    # ------------------------------------------------------------ currency

    @rpc
    def exchange_rates(self) -> dict:
        self._login()
        with self.db.read() as s:
            return currency.exchange_document(s)

    @rpc
    def refresh_exchange_rates(self) -> dict:
        self._staff()
        fetched = currency.fetch_rates()  # outside the transaction (DESIGN rule 5)
        with self.db.write() as s:
            currency.store_rates(s, self.caller, fetched)
        return {"success": "Exchange rates updated"}

    @timer(interval=3600)
    def refresh_stale_exchange_rates(self):
        """Every hour, refresh the rates when older than CURRENCY_UPDATE_INTERVAL days."""
        with self.db.read() as s:
            stale = currency.is_stale(s)
        if stale:
            try:
                fetched = currency.fetch_rates()
            except ApiError as exc:
                log.warning("scheduled %s", exc.detail["detail"])
                return
            with self.db.write() as s:
                currency.store_rates(s, SYSTEM, fetched)

    # ------------------------------------------------------------ news

    @rpc
    def fetch_news(self) -> int:
        """Fetch the feed and store entries not seen before; returns how many were new."""
        entries = news.fetcher().fetch()  # outside the transaction
        with self.db.write() as s:
            return news.store_new(s, SYSTEM, entries)

    @timer(interval=3600)
    def fetch_news_when_due(self):
        hours = config.setting("NEWS_FEED_INTERVAL", 24, int)
        if hours <= 0 or time.monotonic() - self.__class__.news_fetched_at < hours * 3600:
            return
        self.__class__.news_fetched_at = time.monotonic()
        try:
            self.fetch_news()
        except Exception as exc:  # the feed is on the internet; try again next time
            log.warning("news feed fetch failed: %s", exc)

    news_fetched_at = -1e9

    @rpc
    def list_news_items(self, params: dict) -> dict:
        self._staff()
        with self.db.read() as s:
            return run_list(s, news.listing(params), params, ordering=news.ORDERING,
                            default_order=[news_entries.c.published.desc(), news_entries.c.id],
                            render=news.render)

    @rpc
    def get_news_item(self, pk: int) -> dict:
        self._staff()
        with self.db.read() as s:
            return news.render(news.get(s, pk))

    @rpc
    def update_news_item(self, pk: int, data: dict, partial: bool = False) -> dict:
        self._staff()
        with self.db.write() as s:
            return news.update(s, self.caller, pk, data, partial)

    @rpc
    def delete_news_item(self, pk: int) -> None:
        self._staff()
        with self.db.write() as s:
            news.delete(s, self.caller, pk)

    @rpc
    def bulk_delete_news_items(self, body: dict) -> int:
        self._staff()
        with self.db.write() as s:
            return news.bulk_delete(s, self.caller, body)

    # ------------------------------------------------------------ email

    @rpc
    def email_login_link(self, email: str, base_url: str) -> dict:
        """Always the same answer, so it never tells whether the address belongs to anyone;
        a mail that cannot be sent is logged, not reported. `base_url`: the configured or
        allowed site address the gateway chose; without one no link is made."""
        if not base_url:
            log.warning("login link not sent: no trusted site address")
            return {"status": "ok"}
        link = self.users.issue_magic_link(email)
        if link is not None:
            if not mail.configured():
                log.warning("login link requested but INVENTREE_EMAIL_HOST is not set")
            else:
                try:
                    mail.send_login_link(link, base_url)
                except Exception:
                    log.exception("could not send the login link mail")
        return {"status": "ok"}

    @event_handler("users", "user.created", handler_type=SERVICE_POOL)
    def welcome_new_user(self, event):
        """A user created through the API with an address gets InvenTree's welcome mail,
        once; a mail that cannot be sent never fails the user's creation."""
        email = event["payload"].get("email")
        if not (event["payload"].get("welcome") and email and mail.configured()):
            return
        with self.db.write() as s:
            first = store.mark_processed(s, "system.welcome", event["id"])
        if first:
            try:
                mail.send_welcome(email, config.setting("INVENTREE_SITE_URL", ""))
            except Exception:
                log.exception("could not send the welcome mail")

    # ------------------------------------------------------------ webhooks

    @rpc
    def receive_webhook(self, endpoint: str, body_b64: str, headers: dict, host: str) -> int:
        with self.db.write() as s:
            return webhooks.receive(s, self.caller, endpoint, base64.b64decode(body_b64),
                                    {k.lower(): v for k, v in headers.items()}, host)

    # ------------------------------------------------------------ other domains

    @rpc
    def search(self, body: dict) -> dict:
        self._login()
        return search.search(body)

    @rpc
    def test_statistics(self, kind: str, pk: int) -> list:
        self._login()
        return search.test_statistics(kind, pk)

    # ------------------------------------------------------------ error reports

    def on_error_logged(self, event: dict):
        """An `error.logged` event of any process: a report, and a notification per staff
        user (asked of the users service before the transaction opens)."""
        staff = self.users.staff_user_ids()
        try:
            with self.db.write() as s:
                reports.record_error(s, event, staff)
        except IntegrityError:  # an identical error began its report at the same moment
            with self.db.write() as s:
                reports.record_error(s, event, staff)

    @rpc
    def list_error_reports(self, params: dict) -> dict:
        self._staff()
        with self.db.read() as s:
            return run_list(s, reports.reports_query(), params, search=reports.REPORT_SEARCH,
                            ordering=reports.REPORT_ORDERING,
                            default_order=[error_reports.c.when.desc(), error_reports.c.id.desc()],
                            render=reports.render_report)

    @rpc
    def get_error_report(self, pk: int) -> dict:
        self._staff()
        with self.db.read() as s:
            return reports.render_report(reports.get_report(s, pk))

    @rpc
    def update_error_report(self, pk: int, data: dict, partial: bool = False) -> dict:
        """Every field is read-only: the report comes back unchanged."""
        return self.get_error_report(pk)

    @rpc
    def delete_error_report(self, pk: int) -> None:
        self._staff()
        with self.db.write() as s:
            reports.delete_report(s, self.caller, pk)

    @rpc
    def bulk_delete_error_reports(self, body: dict) -> int:
        self._staff()
        with self.db.write() as s:
            return reports.bulk_delete_reports(s, self.caller, body)

    # ------------------------------------------------------------ notifications

    @rpc
    def list_notifications(self, params: dict) -> dict:
        self._login()
        with self.db.read() as s:
            return run_list(s, reports.own_notes(params, self.caller), params,
                            search=reports.NOTE_SEARCH, ordering=reports.NOTE_ORDERING,
                            default_order=[notifications.c.id], render=reports.render_note)

    @rpc
    def get_notification(self, pk: int) -> dict:
        self._login()
        with self.db.read() as s:
            return reports.render_note(reports.get_note(s, self.caller, pk))

    @rpc
    def update_notification(self, pk: int, data: dict, partial: bool = False) -> dict:
        self._login()
        with self.db.write() as s:
            return reports.render_note(reports.update_note(s, self.caller, pk, data, partial))

    @rpc
    def delete_notification(self, pk: int) -> None:
        self._login()
        with self.db.write() as s:
            reports.delete_note(s, self.caller, pk)

    @rpc
    def bulk_delete_notifications(self, body: dict) -> int:
        self._login()
        with self.db.write() as s:
            return reports.bulk_delete_notes(s, self.caller, body)

    @rpc
    def read_all_notifications(self) -> dict:
        self._login()
        with self.db.write() as s:
            reports.read_all(s, self.caller)
        return {"status": "ok"}

    @rpc
    def notification_options(self, detail: bool = False) -> dict:
        self._login()
        methods = ["PUT"] if detail else []
        doc = options_document("Notification Detail" if detail else "Notification List",
                               "List view for all notifications of the current user.",
                               reports.NOTE_FIELDS, methods)
        doc.setdefault("actions", {})["GET"] = {}
        doc["actions"]["DELETE"] = {}
        return doc

    # ------------------------------------------------------------ import-target protocol

    def _import_context(self, rows) -> dict:
        """Owners referenced by the batch, looked up before the transaction."""
        pks = [r.get("data", {}).get("responsible") for r in rows if isinstance(r, dict)
               and isinstance(r.get("data"), dict)]
        return {"owners": self._owners(p for p in pks if str(p).isdigit())}


def _validate_project_code(session, data, context):
    cleaned = projectcodes.clean(data)
    projectcodes.check_owner(cleaned, context.get("owners", {}))
    projectcodes.check_unique(session, cleaned)
    return cleaned


Service.IMPORTS = ImportTargets({
    "customunit": ImportAdapter(
        label="Custom Unit", fields=units.FIELDS, serializer="CustomUnitSerializer",
        validate=lambda session, data, _context: customunits.check(session, data),
        create=lambda session, caller, cleaned, key:
            customunits.create(session, caller, cleaned, key)),
    "projectcode": ImportAdapter(
        label="Project Code", fields=projectcodes.FIELDS, validate=_validate_project_code,
        serializer="ProjectCodeSerializer", api_url="/api/project-code/",
        validate_batch=lambda session, datas, context:
            projectcodes.clean_batch(session, datas, context.get("owners", {})),
        create_batch=projectcodes.create_batch,
        create=lambda session, caller, cleaned, key:
            projectcodes.create(session, caller, cleaned, key, checked=True)),
}, receipts)


def _error_subscriber(source: str):
    @event_handler(source, "error.logged", handler_type=SERVICE_POOL)
    def handle(self, event):
        self.on_error_logged(event)
    handle.__name__ = f"on_{source}_error"
    return handle


for _source in config.setting("ERROR_REPORT_SOURCES",
                              "gateway,users,status,audit,system,attachments,importer").split(","):
    setattr(Service, f"on_{_source}_error", _error_subscriber(_source))
