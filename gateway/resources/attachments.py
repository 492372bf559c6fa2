"""Attachments, notes images and `/media/` downloads (attachments service).

Uploads reach the service by claim check (gateway.uploads). Lists and details are answered
from per-worker read models dropped on every attachment event (and on user changes, which
show in `user_detail`); writes drop this worker's at once. What a caller sees depends on the
roles they may view (the attachments service filters by the target model's role), so the
read models are kept per set of viewed roles.
"""
from gateway import http, uploads
from gateway.cache import QueryCache
from gateway.media import send_blob

from .base import (
    BulkDeleteMixin,
    DetailResource,
    ListResource,
    MetadataResource,
    Resource,
    ServiceResource,
)


def view_scope(caller) -> tuple:
    """What decides what `caller` sees of attachments: superuser, or the roles they may view
    and whether they are staff (only staff see uploaders' e-mail addresses)."""
    if caller.is_superuser:
        return ("*",)
    roles = sorted(role for role, perms in caller.roles.items() if "view" in (perms or ()))
    return (caller.is_admin, *roles)


class AttachmentWrites:
    service, options_method = "attachments", "attachment_options"

    def after_write(self: ServiceResource, req):
        self.api.attachment_cache.invalidate()

    def described(self: ServiceResource, options: dict) -> dict:
        return uploads.with_max_size(options, "attachment",
                                     self.api.settings.ATTACHMENT_MAX_BYTES)

    def submit(self: ServiceResource, req, method: str, **kwargs):
        """`method` with the body's fields and its upload (ATTACHMENT_MAX_BYTES at most)."""
        with self.upload(req, "attachment",
                         self.api.settings.ATTACHMENT_MAX_BYTES) as (data, upload):
            answer = self.call(req, self.service, method, data=data, upload=upload, **kwargs)
        self.after_write(req)
        return answer


class AttachmentList(AttachmentWrites, BulkDeleteMixin, ListResource):
    list_method, create_method = "list_attachments", "create_attachment"
    bulk_delete_method = "bulk_delete_attachments"

    def list(self, req, params):
        key = ("list", view_scope(req.context.caller), tuple(sorted(params.items())))
        return self.cached(req, self.api.attachment_cache, key, self.service, self.list_method,
                           params=params)

    def on_post(self, req, resp):
        http.send(resp, self.submit(req, self.create_method), 201)


class AttachmentDetail(AttachmentWrites, DetailResource):
    get_method, update_method, delete_method = (
        "get_attachment", "update_attachment", "delete_attachment")

    def on_get(self, req, resp, id):
        pk = http.int_id(id)
        http.send(resp, self.cached(req, self.api.attachment_cache,
                                    ("detail", view_scope(req.context.caller), pk),
                                    self.service, self.get_method, pk=pk))

    def _update(self, req, resp, id, partial):
        http.send(resp, self.submit(req, self.update_method, pk=http.int_id(id),
                                    partial=partial))


class AttachmentMetadata(MetadataResource):
    service = "attachments"
    get_method, set_method = "attachment_metadata", "set_attachment_metadata"


class NotesImageList(ListResource):
    service, list_method, create_method = "attachments", "list_notes_images", "create_notes_image"

    def on_post(self, req, resp):
        with self.upload(req, "image", self.api.settings.NOTES_IMAGE_MAX_BYTES) as (data, upload):
            http.send(resp, self.call(req, self.service, self.create_method, data=data,
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
        caller = self.api.auth.authenticate_media(req, req.context.request_id)
        if caller is None:
            resp.status = 401
            resp.content_type = "text/plain"
            resp.text = "Unauthorized"
            return
        service = "importer" if path.startswith("import/") else "attachments"
        info = self.api.rpc.call(service, "media_file", caller, req.path, key=path)
        send_blob(req, resp, self.api.blobs, info)

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
