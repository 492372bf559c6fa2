"""The system service: project codes, flags, version and license information, and (as
they land) the rest of InvenTree's smaller General endpoints."""
from nameko.rpc import RpcProxy
from sqlalchemy import select

from svckit.context import Caller
from svckit.errors import NotAuthenticated, PermissionDenied
from svckit.fields import describe, options_document
from svckit.importing import ImportAdapter, ImportTargets
from svckit.listing import run_list
from svckit.metadata import merged_metadata
from svckit.service import CallerProvider, ServiceBase, Store, rpc

from . import about, projectcodes
from .models import project_codes, receipts, store


class Service(ServiceBase):
    name = "system"
    db = Store(store)
    caller: Caller = CallerProvider()
    users = RpcProxy("users")

    def _login(self):
        if not self.caller.authenticated:
            raise NotAuthenticated()

    def _staff(self):
        self._login()
        if not (self.caller.is_staff or self.caller.is_superuser):
            raise PermissionDenied()

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
        params = {k: v for k, v in params.items() if k not in ("limit", "offset")}
        return {"fields": describe(projectcodes.FIELDS),
                "rows": self.list_project_codes(params)["results"]}

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
        self._login()
        staff = self.caller.is_staff or self.caller.is_superuser
        methods = (["PUT"] if detail else ["POST"]) if staff else []
        return options_document("Project Code Detail" if detail else "Project Code List", "",
                                projectcodes.FIELDS, methods)

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
            current = projectcodes.get(s, pk)["metadata"]
            value = merged_metadata(current, body, partial)
            store.record(s, "project_code", pk, "project_code.updated", {"metadata": value},
                         self.caller)
        return {"metadata": value}

    # ------------------------------------------------------------ import-target protocol

    @rpc
    def import_targets(self) -> list:
        return IMPORTS.targets()

    @rpc
    def import_fields(self, model_type: str) -> dict:
        return IMPORTS.fields(model_type)

    def _import_context(self, rows) -> dict:
        """Owners referenced by the batch, looked up before the transaction."""
        pks = [r.get("data", {}).get("responsible") for r in rows if isinstance(r, dict)
               and isinstance(r.get("data"), dict)]
        return {"owners": self._owners(p for p in pks if str(p).isdigit())}

    @rpc
    def import_validate(self, model_type: str, rows: list) -> list:
        context = self._import_context(rows)
        with self.db.read() as s:
            return IMPORTS.validate(s, model_type, rows, context)

    @rpc
    def import_create(self, model_type: str, rows: list) -> list:
        self._staff()
        context = self._import_context(rows)
        with self.db.write() as s:
            return IMPORTS.create(s, self.caller, model_type, rows, context)


def _validate_project_code(session, data, context):
    cleaned = projectcodes.clean(data)
    projectcodes.check_owner(cleaned, context.get("owners", {}))
    projectcodes.check_unique(session, cleaned)
    return cleaned


IMPORTS = ImportTargets({
    "projectcode": ImportAdapter(
        label="Project Code", fields=projectcodes.FIELDS, validate=_validate_project_code,
        create=lambda session, caller, cleaned, key:
            projectcodes.create(session, caller, cleaned, key)),
}, receipts)
