"""Attachments, notes images and `/media/` downloads (attachments service).

Uploads reach the service by claim check (gateway.uploads). Lists and details are answered
from per-worker read models dropped on every attachment event (and on user changes, which
show in `user_detail`); writes drop this worker's at once. What a caller sees depends on the
roles they may view (the attachments service filters by the target model's role), so the
read models are kept per set of viewed roles.
"""
from gateway import http
from gateway.cache import QueryCache
from gateway.media import send_blob
from gateway.uploads import request_data
from svckit import config

from .base import (
    BulkDeleteMixin,
    DetailResource,
    ListResource,
    MetadataResource,
    Resource,
    ServiceResource,
)

MAX_BYTES = config.setting("ATTACHMENT_MAX_BYTES", 100 * 1024 * 1024, int)
NOTES_MAX_BYTES = config.setting("NOTES_IMAGE_MAX_BYTES", 5 * 1024 * 1024, int)


def view_scope(caller) -> tuple:
    """What decides what `caller` sees of attachments: superuser, or the roles they may view
    and whether they are staff (only staff see uploaders' e-mail addresses)."""
    if caller.is_superuser:
        return ("*",)
    roles = sorted(role for role, perms in caller.roles.items() if "view" in (perms or ()))
    return (caller.is_admin, *roles)


class AttachmentWrites:
    service, name, options_method = "attachments", "attachment", "attachment_options"

    def after_write(self: ServiceResource, req):
        self.app.attachment_cache.invalidate()

    def submit(self: ServiceResource, req, method: str, status: int, **kwargs):
        with request_data(req, self.app.blobs, "attachment", MAX_BYTES) as (data, upload):
            answer = self.app.rpc.call("attachments", method, req.context.caller, req.path,
                                       data=data, upload=upload, **kwargs)
        self.after_write(req)
        return answer


class AttachmentList(AttachmentWrites, BulkDeleteMixin, ListResource):
    def list(self, req, params):
        key = ("list", view_scope(req.context.caller), tuple(sorted(params.items())))
        return self.cached(req, self.app.attachment_cache, key, "attachments",
                           "list_attachments", params=params)

    def on_post(self, req, resp):
        http.send(resp, self.submit(req, "create_attachment", 201), 201)


class AttachmentDetail(AttachmentWrites, DetailResource):
    def on_get(self, req, resp, id):
        pk = http.int_id(id)
        http.send(resp, self.cached(req, self.app.attachment_cache,
                                    ("detail", view_scope(req.context.caller), pk),
                                    "attachments", "get_attachment", pk=pk))

    def _update(self, req, resp, id, partial):
        http.send(resp, self.submit(req, "update_attachment", 200, pk=http.int_id(id),
                                    partial=partial))


class AttachmentMetadata(MetadataResource):
    service, name = "attachments", "attachment"


class NotesImageList(ListResource):
    service, name = "attachments", "notes_image"

    def on_post(self, req, resp):
        with request_data(req, self.app.blobs, "image", NOTES_MAX_BYTES) as (data, upload):
            http.send(resp, self.call(req, "attachments", "create_notes_image", data=data,
                                      upload=upload), 201)


class NotesImageDetail(Resource):
    """DELETE only (InvenTree 264 has no detail route): staff or the uploader."""

    def on_delete(self, req, resp, id):
        self.call(req, "attachments", "delete_notes_image", pk=http.int_id(id))
        resp.status = 204


class Media(Resource):
    """`/media/<path>`: a stored file, for a token or session (never basic auth, as
    InvenTree's AuthRequiredMiddleware), with Range support. Keys under `import/` (data
    files) are the importer service's, all others the attachments service's."""

    auth = "none"

    def on_get(self, req, resp, path):
        caller = self.app.auth.authenticate_media(req, req.context.request_id)
        if caller is None:
            resp.status = 401
            resp.content_type = "text/plain"
            resp.text = "Unauthorized"
            return
        service = "importer" if path.startswith("import/") else "attachments"
        info = self.app.rpc.call(service, "media_file", caller, req.path, key=path)
        send_blob(req, resp, self.app.blobs, info)

    on_head = on_get


def register(app, api):
    api.attachment_cache = QueryCache(api.bus, [("attachments", "attachment.#"),
                                                ("users", "user.#")], max_entries=4096)
    app.add_route("/api/attachment/", AttachmentList(api))
    app.add_route("/api/attachment/{id}/", AttachmentDetail(api))
    app.add_route("/api/attachment/{id}/metadata/", AttachmentMetadata(api))
    app.add_route("/api/notes-image-upload/", NotesImageList(api))
    app.add_route("/api/notes-image-upload/{id}/", NotesImageDetail(api))
    app.add_route("/media/{path:path}", Media(api))
