"""A service process's settings, built once at start and passed to its nameko container.

svckit.run (and a test) builds the service's settings class (`services/<name>/settings.py`)
once and starts the container with `container_config(settings)`; svckit's extensions read
them with `settings_of(container)`, and the service's entrypoints get them injected by its
`settings = Settings(<Name>Settings)` dependency. Nothing else reads the environment.
"""
from nameko.extensions import DependencyProvider

from svckit.settings import ServiceSettings

SETTINGS = "SETTINGS"  # the key of the process's settings in a service container's config


def container_config(settings: ServiceSettings) -> dict:
    """A service container's config: nameko's own keys taken from `settings`, and `settings`
    itself, which svckit's extensions and the `Settings` dependency read (svckit.run builds
    the settings once at start; tests build theirs)."""
    return {"AMQP_URI": settings.AMQP_URI, "max_workers": settings.SERVICE_MAX_WORKERS,
            "serializer": "json", SETTINGS: settings}


def settings_of(container) -> ServiceSettings:
    """The settings a service container was started with (see `container_config`)."""
    settings = container.config.get(SETTINGS)
    if not isinstance(settings, ServiceSettings):
        raise RuntimeError(f"the {container.service_name} service was started without its "
                           "settings: build its container config with "
                           "svckit.container_settings.container_config(settings)")
    return settings


class Settings(DependencyProvider):
    """Injects the process's settings, an instance of `settings_class` (each service's
    `services/<name>/settings.py`), passed in the container config at start."""

    def __init__(self, settings_class: type[ServiceSettings]):
        self.settings_class = settings_class

    def setup(self):
        self.settings = settings_of(self.container)
        if not isinstance(self.settings, self.settings_class):
            raise TypeError(f"the {self.container.service_name} service needs "
                            f"{self.settings_class.__name__}, not "
                            f"{type(self.settings).__name__}")

    def get_dependency(self, worker_ctx):
        return self.settings

