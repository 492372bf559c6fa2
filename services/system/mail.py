"""Outgoing mail over SMTP (`INVENTREE_EMAIL_*`, InvenTree's names), and the magic login
link mail of `POST /api/email/generate/` (SEMANTICS §6)."""
import logging
import smtplib
from email.message import EmailMessage

from svckit import config

log = logging.getLogger(__name__)


def configured() -> bool:
    return bool(config.setting("INVENTREE_EMAIL_HOST", ""))


def send(to: str, subject: str, body: str):
    message = EmailMessage()
    message["From"] = config.setting("INVENTREE_EMAIL_SENDER", "inventree@localhost")
    message["To"] = to
    message["Subject"] = subject
    message.set_content(body)
    host = config.setting("INVENTREE_EMAIL_HOST", "")
    port = config.setting("INVENTREE_EMAIL_PORT", 25, int)
    timeout = config.setting("INVENTREE_EMAIL_TIMEOUT", 10.0, float)
    smtp_class = smtplib.SMTP_SSL if config.setting("INVENTREE_EMAIL_SSL", False, bool) else smtplib.SMTP
    with smtp_class(host, port, timeout=timeout) as smtp:
        if config.setting("INVENTREE_EMAIL_TLS", False, bool):
            smtp.starttls()
        user = config.setting("INVENTREE_EMAIL_USERNAME", "")
        if user:
            smtp.login(user, config.setting("INVENTREE_EMAIL_PASSWORD", ""))
        smtp.send_message(message)


def send_login_link(link: dict, base_url: str):
    instance = config.setting("INVENTREE_INSTANCE", "InvenTree")
    url = f"{base_url}/api/email/login/?sesame={link['key']}"
    body = (f"Hello {link['username']},\n\nUse this link to log in to {instance}; it works "
            f"once, within 5 minutes:\n\n{url}\n")
    send(link["email"], f"[{instance}] Log in to the app", body)


def send_welcome(email: str, base_url: str):
    """InvenTree's mail to a user created through the API."""
    body = "Your account has been created.\n\nPlease use the password reset function to login"
    if base_url:
        body += f"\n\nURL: {base_url}"
    send(email, "Welcome to InvenTree", body)
