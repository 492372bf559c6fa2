"""`/api/email/generate/` (a magic login link by mail), and the welcome mail of new users."""
from nameko.events import SERVICE_POOL

from svckit.service import event_handler, rpc

from .. import mail
from .base import SystemEntrypoints


class MailEntrypoints(SystemEntrypoints):
    @rpc
    def email_login_link(self, email: str, base_url: str) -> dict:
        """The link is issued by the users service; this service holds no transaction."""
        return mail.email_login_link(self.settings, email, base_url,
                                     self.users.issue_magic_link)

    @event_handler("users", "user.created", handler_type=SERVICE_POOL)
    def welcome_new_user(self, event):
        """Once per event; the mail is sent after the commit (DESIGN rule 5), and one that
        cannot be sent never fails the user's creation."""
        with self.db.write() as s:
            email = mail.claim_welcome(s, event, self.settings.mail_configured())
        mail.welcome(self.settings, email)
