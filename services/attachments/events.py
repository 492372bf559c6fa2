"""Every event type the attachments service records. Streams `attachment` and `notes_image`;
the payload fields of each type are named beside it."""

# model_type, model_id, comment, link (None), tags, upload_date, upload_user, metadata,
# file_key, file_size, sha256, upload_id (the incoming key it was claimed from)
ATTACHMENT_UPLOADED = "attachment.uploaded"
# model_type, model_id, comment, link, tags, upload_date, upload_user, metadata
ATTACHMENT_LINKED = "attachment.linked"
# the fields that changed (any of the above but upload_date and upload_user)
ATTACHMENT_UPDATED = "attachment.updated"
# file_key (the new one), previous_key
ATTACHMENT_RENAMED = "attachment.renamed"
# file_key (None for a link), model_type, model_id
ATTACHMENT_DELETED = "attachment.deleted"

# model_type, model_id, file_key, user_id, upload_id
NOTES_IMAGE_UPLOADED = "notes_image.uploaded"
# file_key
NOTES_IMAGE_DELETED = "notes_image.deleted"
