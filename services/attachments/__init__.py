"""The attachments service: files and links attached to InvenTree objects."""
