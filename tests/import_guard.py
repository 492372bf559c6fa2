"""Imports modules with a guard on the environment: `python -m tests.import_guard MODULE...`
prints, as JSON, every read of an environment variable made by code under services/,
svckit/ or the modules named, and every settings object built, while they were imported.
(Run in a fresh interpreter, so that every module really is imported.)"""
import importlib
import json
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OURS = (str(ROOT / "services") + os.sep, str(ROOT / "svckit") + os.sep)
PLUMBING = ("os", "collections.abc", "_collections_abc")  # modules between a caller and os.environ


def caller_file(depth: int) -> tuple[str, int]:
    """The file and line of the first caller outside os and collections.abc."""
    frame = sys._getframe(depth)
    while frame is not None and frame.f_globals.get("__name__") in PLUMBING:
        frame = frame.f_back
    return (frame.f_code.co_filename, frame.f_lineno) if frame else ("?", 0)


def main(names: list[str]) -> list[str]:
    found: list[str] = []
    extra = tuple(str(Path(n).resolve()) for n in names if n.endswith(".py"))
    environ_class = type(os.environ)
    getitem, contains = environ_class.__getitem__, environ_class.__contains__

    def report(what: str):
        path, line = caller_file(3)
        if path.startswith(OURS) or path in extra:
            found.append(f"{Path(path).relative_to(ROOT) if path.startswith(str(ROOT)) else path}"
                         f":{line} {what}")

    def guarded_getitem(self, key):
        report(f"reads {key}")
        return getitem(self, key)

    def guarded_contains(self, key):
        report(f"looks up {key}")
        return contains(self, key)

    from pydantic_settings import BaseSettings
    settings_init = BaseSettings.__init__

    def guarded_init(self, *args, **kwargs):
        path, line = caller_file(2)
        found.append(f"{path}:{line} builds {type(self).__name__}")
        settings_init(self, *args, **kwargs)

    environ_class.__getitem__ = guarded_getitem
    environ_class.__contains__ = guarded_contains
    BaseSettings.__init__ = guarded_init
    for name in names:
        if name.endswith(".py"):
            spec = importlib.util.spec_from_file_location(Path(name).stem, name)
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
        else:
            importlib.import_module(name)
    return found


if __name__ == "__main__":
    import importlib.util

    import eventlet
    eventlet.monkey_patch()  # first, as every process does (svckit.run, the tests)
    print(json.dumps(main(sys.argv[1:])))
