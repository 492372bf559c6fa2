"""Outgoing mail over SMTP (`INVENTREE_EMAIL_*`, InvenTree's names): the magic login link
mail of `POST /api/email/generate/` (SEMANTICS §6) and the welcome mail of a new user.
A mail that cannot be sent is logged, never reported to whoever caused it."""
import logging
import smtplib
from email.message import EmailMessage

from .models import store
from .settings import SystemSettings

WELCOME_CONSUMER = "system.welcome"
log = logging.getLogger(__name__)


def send(settings: SystemSettings, to: str, subject: str, body: str):
    """One mail, over the SMTP server of the INVENTREE_EMAIL_* settings."""
    message = EmailMessage()
    message["From"] = settings.INVENTREE_EMAIL_SENDER
    message["To"] = to
    message["Subject"] = subject
    message.set_content(body)
    smtp_class = smtplib.SMTP_SSL if settings.INVENTREE_EMAIL_SSL else smtplib.SMTP
    with smtp_class(settings.INVENTREE_EMAIL_HOST, settings.INVENTREE_EMAIL_PORT,
                    timeout=settings.INVENTREE_EMAIL_TIMEOUT) as smtp:
        if settings.INVENTREE_EMAIL_TLS:
            smtp.starttls()
        if settings.INVENTREE_EMAIL_USERNAME:
            smtp.login(settings.INVENTREE_EMAIL_USERNAME, settings.INVENTREE_EMAIL_PASSWORD)
        smtp.send_message(message)


def send_login_link(settings: SystemSettings, link: dict, base_url: str):
    instance = settings.INVENTREE_INSTANCE
    url = f"{base_url}/api/email/login/?sesame={link['key']}"
    body = (f"Hello {link['username']},\n\nUse this link to log in to {instance}; it works "
            f"once, within 5 minutes:\n\n{url}\n")
    send(settings, link["email"], f"[{instance}] Log in to the app", body)


def send_welcome(settings: SystemSettings, email: str, base_url: str):
    """InvenTree's mail to a user created through the API."""
    body = "Your account has been created.\n\nPlease use the password reset function to login"
    if base_url:
        body += f"\n\nURL: {base_url}"
    send(settings, email, "Welcome to InvenTree", body)


def email_login_link(settings: SystemSettings, email: str, base_url: str, issue_link) -> dict:
    """Mail a login link to the user with address `email`, if any: `issue_link` (the users
    service's `issue_magic_link`) makes it. Always the same answer, so it never tells
    whether the address belongs to anyone. `base_url`: the configured or allowed site
    address the gateway chose; without one no link is made."""
    if not base_url:
        log.warning("login link not sent: no trusted site address")
        return {"status": "ok"}
    link = issue_link(email)
    if link is not None:
        if not settings.mail_configured():
            log.warning("login link requested but INVENTREE_EMAIL_HOST is not set")
        else:
            try:
                send_login_link(settings, link, base_url)
            except Exception:
                log.exception("could not send the login link mail")
    return {"status": "ok"}


def claim_welcome(session, event: dict, mail_configured: bool) -> str | None:
    """The address to send InvenTree's welcome mail to for a `user.created` event (a user
    created through the API with an address, while mail is configured), the first time
    the event is seen; otherwise None."""
    email = event["payload"].get("email")
    if not (event["payload"].get("welcome") and email and mail_configured):
        return None
    return email if store.mark_processed(session, WELCOME_CONSUMER, event["id"]) else None


def welcome(settings: SystemSettings, email: str | None):
    """Send the welcome mail to `email` (from `claim_welcome`; None: nothing to send)."""
    if email is None:
        return
    try:
        send_welcome(settings, email, settings.INVENTREE_SITE_URL)
    except Exception:
        log.exception("could not send the welcome mail")
