"""The system service: project codes, custom units, generators, currency, news, mail,
webhooks, error reports, notifications and the small about/flags/icons/search/action
endpoints (see the README).

`Service` is assembled from one entrypoint group per domain: `service/<domain>.py` holds
the entrypoints that call `services/system/<domain>.py`. nameko finds the entrypoints and
dependencies of every base class. (Names from `services/system/<domain>.py` are imported
here one by one: importing `.currency` binds `currency` in this package to the group's
module.)"""
from svckit.container_settings import Settings
from svckit.context import Caller
from svckit.service import CallerProvider, StartupCheck, Store
from svckit.signed_rpc import RpcProxy

from ..currency import provider_class
from ..models import store
from ..news import fetcher_class
from ..settings import SystemSettings
from .about import AboutEntrypoints
from .actions import ActionEntrypoints
from .currency import CurrencyEntrypoints
from .customunits import CustomUnitEntrypoints
from .errorreports import ErrorReportEntrypoints
from .generate import GeneratorEntrypoints
from .imports import ImportEntrypoints
from .mail import MailEntrypoints
from .news import NewsEntrypoints
from .notifications import NotificationEntrypoints
from .projectcodes import ProjectCodeEntrypoints
from .search import SearchEntrypoints
from .webhooks import WebhookEntrypoints


class Service(AboutEntrypoints, ProjectCodeEntrypoints, CustomUnitEntrypoints,
              GeneratorEntrypoints, ActionEntrypoints, CurrencyEntrypoints, NewsEntrypoints,
              MailEntrypoints, WebhookEntrypoints, SearchEntrypoints, ErrorReportEntrypoints,
              NotificationEntrypoints, ImportEntrypoints):
    name = "system"
    db = Store(store)
    caller: Caller = CallerProvider()
    settings: SystemSettings = Settings(SystemSettings)
    users = RpcProxy("users")
    configured_plugins = StartupCheck(provider_class, fetcher_class)
