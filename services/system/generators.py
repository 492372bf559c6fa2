"""Batch codes and serial numbers: InvenTree 264's `stock/generators.py`,
`InvenTree.helpers.increment` and the `/api/generate/...` views. Pure logic.

InvenTree renders `STOCK_BATCH_CODE_TEMPLATE` with a plain `jinja2.Template`; we render it
in an `ImmutableSandboxedEnvironment` with deterministic caps instead (no timers, which
eventlet could not enforce anyway):

- unsafe attribute access (`__class__`, `__globals__` ...) raises instead of rendering "";
- `range` is bounded and every `for` loop draws on one iteration budget per render;
- macros, call blocks, recursive loops, imports/includes/extends are refused;
- every intermediate string/list (operators, `~`, filter and method results) and the
  output are length-capped, integers are size-capped, format widths are capped.

Any refusal is `ValidationFailed({"template": [message]})`.
"""
import datetime
import functools
import re

from jinja2 import TemplateSyntaxError, nodes
from jinja2.sandbox import ImmutableSandboxedEnvironment, SecurityError
from jinja2.visitor import NodeTransformer

from svckit.errors import ValidationFailed

MAX_ITERATIONS = 1000      # loop iterations per render (all loops together)
MAX_LENGTH = 1000          # any intermediate string / list, and the output
MAX_INT_BITS = 4096        # integers produced by * and **
MAX_INT_ARG = 10_000       # integer arguments to filters and method calls
MAX_SERIALS = 1000         # InvenTree: "Cannot serialize more than 1000 items at once"

_WIDE_FORMAT = re.compile(r"\d{4,}|\*")  # a format width/precision of 1000+ or '*'
_REFUSED_NODES = (nodes.Macro, nodes.CallBlock, nodes.Import, nodes.FromImport,
                  nodes.Include, nodes.Extends)


class _Refused(Exception):
    """A template went past a cap; the message is shown to the user."""


def _check_size(value):
    if isinstance(value, (str, list, tuple, dict, set)) and len(value) > MAX_LENGTH:
        raise _Refused(f"Template value exceeds {MAX_LENGTH} characters or items")
    if isinstance(value, int) and not isinstance(value, bool) and \
            value.bit_length() > MAX_INT_BITS:
        raise _Refused("Template number is too large")
    return value


def _check_args(args, kwargs):
    for arg in (*args, *kwargs.values()):
        _check_size(arg)
        if isinstance(arg, int) and not isinstance(arg, bool) and abs(arg) > MAX_INT_ARG:
            raise _Refused(f"Template argument exceeds {MAX_INT_ARG}")


def _check_format(fmt):
    if isinstance(fmt, str) and _WIDE_FORMAT.search(fmt):
        raise _Refused("Template format width is too large")


class _Budget:
    def __init__(self):
        self.left = MAX_ITERATIONS

    def take(self):
        self.left -= 1
        if self.left < 0:
            raise _Refused(f"Template exceeds {MAX_ITERATIONS} loop iterations")


class _Guard(NodeTransformer):
    """Refuse dangerous constructs; route loops, `~` and printed values through checks."""

    def generic_visit(self, node, *args, **kwargs):
        if isinstance(node, _REFUSED_NODES) or (isinstance(node, nodes.For) and node.recursive):
            raise _Refused(f"Template construct not allowed: {type(node).__name__}")
        if isinstance(node, (nodes.Getattr, nodes.Getitem)):
            attr = getattr(node, "attr", None)
            arg = getattr(node, "arg", None)
            key = attr if attr is not None else getattr(arg, "value", None)
            if isinstance(key, str) and key.startswith("_"):
                raise SecurityError(f"access to attribute {key!r} is unsafe")
        return super().generic_visit(node, *args, **kwargs)

    @staticmethod
    def _wrap(expr, name):
        return nodes.Filter(expr, name, [], [], None, None, lineno=expr.lineno)

    def visit_For(self, node):
        node = self.generic_visit(node)
        node.iter = self._wrap(node.iter, "_counted")
        return node

    def visit_Concat(self, node):
        return self._wrap(self.generic_visit(node), "_sized")

    def visit_Output(self, node):
        node = self.generic_visit(node)
        node.nodes = [n if isinstance(n, nodes.TemplateData) else self._wrap(n, "_sized")
                      for n in node.nodes]
        return node


class _Sandbox(ImmutableSandboxedEnvironment):
    intercepted_binops = frozenset({"*", "**", "%", "+", "//"})

    def unsafe_undefined(self, obj, attribute):
        raise SecurityError(f"access to attribute {attribute!r} of "
                            f"{type(obj).__name__!r} object is unsafe.")

    def call_binop(self, context, operator, left, right):
        if operator == "**" and isinstance(left, int) and isinstance(right, int) and right > 0:
            if max(left.bit_length(), 1) * right > MAX_INT_BITS:
                raise _Refused("Template number is too large")
        if operator == "*":
            for seq, n in ((left, right), (right, left)):
                if isinstance(seq, (str, list, tuple)) and isinstance(n, int) \
                        and len(seq) * n > MAX_LENGTH:
                    raise _Refused(f"Template value exceeds {MAX_LENGTH} characters or items")
            if isinstance(left, int) and isinstance(right, int) and \
                    left.bit_length() + right.bit_length() > MAX_INT_BITS:
                raise _Refused("Template number is too large")
        if operator == "%" and isinstance(left, str):
            _check_format(left)
        return _check_size(super().call_binop(context, operator, left, right))

    def call(__self, __context, __obj, *args, **kwargs):  # noqa: N805 (jinja's signature)
        _check_args(args, kwargs)
        return _check_size(super().call(__context, __obj, *args, **kwargs))

    def wrap_str_format(self, value):
        """`'...'.format` / `format_map` are wrapped when looked up: check the widths."""
        wrapped = super().wrap_str_format(value)
        if wrapped is not None:
            _check_format(value.__self__)
        return wrapped


def _guarded_filter(name, func):
    @functools.wraps(func)  # keeps jinja's pass_context / pass_environment marker
    def wrapper(*args, **kwargs):
        _check_args(args, kwargs)
        if name == "format" and args:
            _check_format(next((a for a in args if isinstance(a, str)), None))
        return _check_size(func(*args, **kwargs))
    return wrapper


def _environment(budget: _Budget) -> _Sandbox:
    env = _Sandbox()
    env.filters = {name: _guarded_filter(name, f) for name, f in env.filters.items()}

    def counted(iterable):
        for item in iterable:
            budget.take()
            yield item

    def bounded_range(*args):
        r = range(*args)
        if len(r) > MAX_ITERATIONS:
            raise _Refused(f"Template range exceeds {MAX_ITERATIONS} items")
        return r

    env.filters["_counted"] = counted
    env.filters["_sized"] = _check_size
    for unsafe in ("namespace", "lipsum", "cycler", "joiner"):
        env.globals.pop(unsafe, None)
    env.globals["range"] = bounded_range
    return env


def batch_code_context(now: datetime.datetime | None = None, **inputs) -> dict:
    """The context generate_batch_code() passes: date parts, then the supplied inputs."""
    now = now or datetime.datetime.now().astimezone()
    return {"date": now, "year": now.year, "month": now.month, "day": now.day,
            "hour": now.hour, "minute": now.minute, "week": now.isocalendar()[1], **inputs}


def render_batch_code(template: str, context: dict | None = None, *,
                      now: datetime.datetime | None = None) -> str:
    """Render STOCK_BATCH_CODE_TEMPLATE with InvenTree's context plus `context` inputs."""
    template = template or ""
    budget = _Budget()
    env = _environment(budget)
    try:
        ast = _Guard().visit(env.parse(template))
        ast.set_environment(env)
        compiled = env.from_string(ast)
        out, size = [], 0
        for chunk in compiled.generate(batch_code_context(now, **(context or {}))):
            size += len(chunk)
            if size > MAX_LENGTH:
                raise _Refused(f"Template output exceeds {MAX_LENGTH} characters")
            out.append(chunk)
        return "".join(out)
    except TemplateSyntaxError as exc:
        raise ValidationFailed({"template": [f"Template syntax error: {exc.message}"]})
    except SecurityError as exc:
        raise ValidationFailed({"template": [f"Template refused: {exc}"]})
    except _Refused as exc:
        raise ValidationFailed({"template": [str(exc)]})
    except (RecursionError, MemoryError):
        raise ValidationFailed({"template": ["Template is too complex"]})
    except Exception as exc:  # UndefinedError, TypeError, ZeroDivisionError ...
        raise ValidationFailed({"template": [f"Template rendering failed: {exc}"]})


def increment_serial(serial) -> str:
    """InvenTree.helpers.increment: bump the trailing number, keeping its zero padding.

    ''/None -> '1'; '001' -> '002'; 'AB99' -> 'AB100'; 'QQQ' -> 'QQQ' (unchanged).
    """
    if serial in ("", None):
        return "1"
    value = str(serial).strip()
    prefix, number = re.search(r"(.*?)(\d+)?$", value).groups()
    if not number:
        return prefix
    return prefix + str(int(number) + 1).zfill(len(number))


def next_serials(latest, quantity=1) -> list[str]:
    """The next `quantity` serials after `latest` (generate_serial_number's loop).

    Stops early on an empty or repeated value, so no duplicates are ever returned.
    """
    if quantity is None:
        quantity = 1
    if isinstance(quantity, bool):
        raise ValidationFailed({"quantity": ["A valid integer is required."]})
    try:
        if isinstance(quantity, float) and not quantity.is_integer():
            raise ValueError
        quantity = int(str(quantity).strip().removesuffix(".0")) \
            if not isinstance(quantity, (int, float)) else int(quantity)
    except (TypeError, ValueError, OverflowError):
        raise ValidationFailed({"quantity": ["A valid integer is required."]})
    if quantity < 1:
        raise ValidationFailed({"quantity": ["Quantity must be greater than zero"]})
    if quantity > MAX_SERIALS:
        raise ValidationFailed({"quantity": [
            f"Cannot serialize more than {MAX_SERIALS} items at once"]})
    serials, sn = [], latest
    while len(serials) < quantity:
        sn = increment_serial(sn)
        if not sn or sn in serials or sn == latest:
            break
        serials.append(sn)
    return serials
