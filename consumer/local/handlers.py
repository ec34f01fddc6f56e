"""load_handler: the user's handler from "path/to/file.py:function" or "package.module:function".

Each way loading can fail has its own exception type, and its message says what to change.
Errors raised by the user's own module keep their traceback (in the message and as __cause__),
since that is the part the user has to fix.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import inspect
import sys
import traceback
from pathlib import Path
from types import ModuleType
from typing import cast

from consumer.local.functions import Handler

_FORMS = "'path/to/file.py:function' or 'package.module:function'"


class HandlerLoadError(Exception):
    """The handler spec could not be turned into a handler."""


class HandlerSpecError(HandlerLoadError):
    """The spec is not of the form file.py:function or module:function."""


class HandlerFileNotFoundError(HandlerLoadError):
    """The spec names a file that does not exist."""


class HandlerImportError(HandlerLoadError):
    """The module was not found, or importing it raised."""


class HandlerAttributeError(HandlerLoadError):
    """The module has no attribute of that name."""


class HandlerNotCallableError(HandlerLoadError):
    """The attribute exists but cannot be called as handler(event, context)."""


def load_handler(spec: str) -> Handler:
    """Imports and returns the handler named by `spec`.

    A file is loaded as a fresh module and its directory is put on sys.path, as Lambda does
    with the task root, so the file can import its sibling modules.

    Example::

        FunctionSpec("orders", load_handler("functions/orders.py:handle"))
    """
    target, _, attribute = spec.strip().rpartition(":")
    if not target or not attribute.isidentifier():
        raise HandlerSpecError(
            f"handler {spec!r} is not {_FORMS}: end it with ':' and the function's name."
        )
    if target.endswith(".py") or "/" in target or "\\" in target:
        module = _import_file(Path(target))
        where = f"file {target}"
    else:
        module = _import_module(target)
        where = f"module {target}"
    try:
        handler = getattr(module, attribute)
    except AttributeError:
        defined = sorted(
            name
            for name, value in vars(module).items()
            if inspect.isfunction(value) and not name.startswith("_")
        )
        raise HandlerAttributeError(
            f"{where} has no {attribute!r}: define `def {attribute}(event, context):` there or "
            f"fix the name after ':' (functions it defines: {', '.join(defined) or 'none'})."
        ) from None
    if not callable(handler):
        raise HandlerNotCallableError(
            f"{where}: {attribute!r} is {_a(type(handler).__name__)}, not a function; "
            "point the spec at a function taking (event, context)."
        )
    return cast(Handler, handler)


def _a(noun: str) -> str:
    """`a dict`, `an int`."""
    return f"an {noun}" if noun[:1].lower() in "aeiou" else f"a {noun}"


def _import_file(path: Path) -> ModuleType:
    resolved = path.expanduser().resolve()
    if not resolved.is_file():
        raise HandlerFileNotFoundError(
            f"handler file {path} does not exist (looked at {resolved}): give a path relative "
            f"to the working directory {Path.cwd()} or an absolute one."
        )
    # A name unique per file, so two handler.py files in different folders never collide.
    digest = hashlib.sha1(str(resolved).encode(), usedforsecurity=False).hexdigest()[:12]
    name = f"_local_lambda_{resolved.stem}_{digest}"
    module_spec = importlib.util.spec_from_file_location(name, resolved)
    if module_spec is None or module_spec.loader is None:
        raise HandlerImportError(f"handler file {path} cannot be imported: is it a Python file?")
    module = importlib.util.module_from_spec(module_spec)
    if str(resolved.parent) not in sys.path:
        sys.path.insert(0, str(resolved.parent))
    sys.modules[name] = module  # dataclasses and pickling look their module up here
    try:
        module_spec.loader.exec_module(module)
    except Exception as exc:
        del sys.modules[name]
        raise HandlerImportError(
            f"importing handler file {path} failed; fix this error in it:\n{_user_traceback(exc)}"
        ) from exc
    return module


def _import_module(target: str) -> ModuleType:
    try:
        return importlib.import_module(target)
    except ModuleNotFoundError as exc:
        if exc.name is not None and (target == exc.name or target.startswith(exc.name + ".")):
            raise HandlerImportError(
                f"handler module {target!r} was not found on sys.path: check its name, install "
                "its package, or use the 'path/to/file.py:function' form."
            ) from exc
        failure: Exception = exc  # the module itself imports something missing
    except Exception as exc:
        failure = exc
    raise HandlerImportError(
        f"importing handler module {target!r} failed; fix this error in it:\n"
        f"{_user_traceback(failure)}"
    ) from failure


def _user_traceback(exc: BaseException) -> str:
    """The traceback without the import machinery's and this module's frames."""
    formatted = traceback.TracebackException.from_exception(exc)
    formatted.stack = traceback.StackSummary.from_list(
        [
            frame
            for frame in formatted.stack
            if not frame.filename.startswith("<frozen ") and frame.filename != __file__
        ]
    )
    return "".join(formatted.format()).rstrip()
