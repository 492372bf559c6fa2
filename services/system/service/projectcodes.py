"""`/api/project-code/...`. Owners live in the users service: those the input names are
asked for before the transaction opens, and those of the answer after it closed (DESIGN
rule 5)."""
from svckit.service import rpc

from .. import projectcodes
from .base import SystemEntrypoints


class ProjectCodeEntrypoints(SystemEntrypoints):
    @rpc
    def list_project_codes(self, params: dict) -> dict:
        self.caller.require_login()
        with self.db.read() as s:
            page = projectcodes.list_project_codes(s, params)
        return {**page, "results": projectcodes.render_all(page["results"], self.users.owners)}

    @rpc
    def export_project_codes(self, params: dict) -> dict:
        return self._export(projectcodes.FIELDS, self.list_project_codes, params)

    @rpc
    def get_project_code(self, pk: int) -> dict:
        self.caller.require_login()
        with self.db.read() as s:
            row = projectcodes.get(s, pk)
        return projectcodes.render_one(row, self.users.owners)

    @rpc
    def create_project_code(self, data: dict) -> dict:
        self.caller.require_staff()
        owners = projectcodes.referenced_owners([data], self.users.owners)
        with self.db.write() as s:
            row = projectcodes.add(s, self.caller, data, owners)
        return projectcodes.render_one(row, self.users.owners)

    @rpc
    def update_project_code(self, pk: int, data: dict, partial: bool = False) -> dict:
        self.caller.require_staff()
        owners = projectcodes.referenced_owners([data], self.users.owners)
        with self.db.write() as s:
            row = projectcodes.update(s, self.caller, pk, data, partial, owners)
        return projectcodes.render_one(row, self.users.owners)

    @rpc
    def delete_project_code(self, pk: int) -> None:
        self.caller.require_staff()
        with self.db.write() as s:
            projectcodes.delete(s, self.caller, pk)

    @rpc
    def project_code_options(self, detail: bool = False) -> dict:
        return self._options("Project Code", projectcodes.FIELDS, detail)

    @rpc
    def project_code_metadata(self, pk: int) -> dict:
        self.caller.require_login()
        with self.db.read() as s:
            return projectcodes.metadata(s, pk)

    @rpc
    def set_project_code_metadata(self, pk: int, body: dict, partial: bool) -> dict:
        """Writes need Django's `change_projectcode`, which no role grants: superusers only
        (SEMANTICS §1.2, §1.12)."""
        self.caller.require_superuser()
        with self.db.write() as s:
            return projectcodes.set_metadata(s, self.caller, pk, body, partial)
