"""The base of the system service's entrypoint groups: what the assembled `Service`
provides them."""
from typing import Any

from svckit.service import ServiceBase

from ..settings import SystemSettings


class SystemEntrypoints(ServiceBase):
    users: Any  # the users service: `RpcProxy("users")`, declared on `Service`
    settings: SystemSettings  # the process's: `Settings(SystemSettings)`, declared on `Service`
