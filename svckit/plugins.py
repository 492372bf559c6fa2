"""Plugins named in settings as `package.module:Name` (a currency provider, a news feed).

`load_plugin` resolves such a spec, or raises PluginError saying what is wrong (malformed
spec, missing module, missing attribute) and, given `setting`, which setting to fix. A
service resolves its plugins when it starts (svckit.service.StartupCheck), so a bad setting
stops it at once instead of failing the first request with a 500."""
import importlib
import re

_SPEC = re.compile(r"^[A-Za-z_]\w*(\.[A-Za-z_]\w*)*:[A-Za-z_]\w*(\.[A-Za-z_]\w*)*$")


class PluginError(ValueError):
    """A plugin spec that is malformed, or names a module or attribute that is not there."""


def load_plugin(spec: str, *, kind: str, setting: str = ""):
    """The object `spec` ("package.module:Name"; a dotted path after the colon) names.
    `kind` (e.g. "currency provider") and `setting` (e.g. "CURRENCY_PROVIDER") go into the
    error message."""
    where = f"{setting}={spec!r}" if setting else repr(spec)
    if not isinstance(spec, str) or not _SPEC.match(spec):
        raise PluginError(f'{where}: not a {kind}; expected "package.module:Name"')
    module_name, _, path = spec.partition(":")
    try:
        target = importlib.import_module(module_name)
    except ImportError as exc:
        raise PluginError(f"{where}: cannot import the {kind}'s module {module_name!r} "
                          f"({exc})") from exc
    for attr in path.split("."):
        try:
            target = getattr(target, attr)
        except AttributeError:
            raise PluginError(f"{where}: module {module_name!r} has no {kind} {path!r}") \
                from None
    return target
