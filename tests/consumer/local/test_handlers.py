"""load_handler: both spec forms, and each failure with a message that says what to fix."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import cast

import pytest

from consumer.local.functions import LambdaContext
from consumer.local.handlers import (
    HandlerAttributeError,
    HandlerFileNotFoundError,
    HandlerImportError,
    HandlerNotCallableError,
    HandlerSpecError,
    load_handler,
)

NO_CONTEXT = cast(LambdaContext, None)  # these handlers do not read it


def write(path: Path, source: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(source)
    return path


def test_file_form_loads_the_function(tmp_path: Path) -> None:
    path = write(tmp_path / "fn" / "app.py", "def handle(event, context):\n    return event * 2\n")
    assert load_handler(f"{path}:handle")(21, NO_CONTEXT) == 42


def test_file_form_can_import_its_sibling_modules(tmp_path: Path) -> None:
    sibling = f"sibling_{uuid.uuid4().hex}"
    write(tmp_path / f"{sibling}.py", "FACTOR = 3\n")
    path = write(
        tmp_path / "app.py",
        f"from {sibling} import FACTOR\n\ndef handle(event, context):\n    return event * FACTOR\n",
    )
    assert load_handler(f"{path}:handle")(2, NO_CONTEXT) == 6


def test_two_files_with_the_same_name_stay_separate(tmp_path: Path) -> None:
    one = write(tmp_path / "a" / "handler.py", "def handle(event, context):\n    return 'a'\n")
    two = write(tmp_path / "b" / "handler.py", "def handle(event, context):\n    return 'b'\n")
    assert load_handler(f"{one}:handle")(None, NO_CONTEXT) == "a"
    assert load_handler(f"{two}:handle")(None, NO_CONTEXT) == "b"


def test_module_form_loads_the_function(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    package = f"pkg_{uuid.uuid4().hex}"
    write(tmp_path / package / "__init__.py", "")
    write(tmp_path / package / "orders.py", "def handle(event, context):\n    return 'orders'\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    assert load_handler(f"{package}.orders:handle")({}, NO_CONTEXT) == "orders"


@pytest.mark.parametrize("spec", ["app.py", "app.py:", "package.module", ":handle", "m:not-a-name"])
def test_spec_without_a_function_name_is_rejected(spec: str) -> None:
    with pytest.raises(HandlerSpecError, match=r"'path/to/file\.py:function' or 'package\.module"):
        load_handler(spec)


def test_missing_file_names_the_path_it_looked_at(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere" / "app.py"
    with pytest.raises(HandlerFileNotFoundError) as raised:
        load_handler(f"{missing}:handle")
    assert str(missing) in str(raised.value)
    assert "relative to the working directory" in str(raised.value)


def test_error_in_the_users_file_keeps_their_traceback(tmp_path: Path) -> None:
    path = write(
        tmp_path / "app.py",
        "import json\n\nLIMIT = int('ten')\n\ndef handle(event, context):\n    return event\n",
    )
    with pytest.raises(HandlerImportError) as raised:
        load_handler(f"{path}:handle")
    message = str(raised.value)
    assert f"importing handler file {path} failed; fix this error in it" in message
    assert f'File "{path}", line 3' in message
    assert "LIMIT = int('ten')" in message
    assert "ValueError: invalid literal for int() with base 10: 'ten'" in message
    assert "importlib" not in message  # the machinery's frames are left out
    assert isinstance(raised.value.__cause__, ValueError)


def test_syntax_error_in_the_users_file_points_at_the_line(tmp_path: Path) -> None:
    path = write(tmp_path / "app.py", "def handle(event, context)\n    return event\n")
    with pytest.raises(HandlerImportError) as raised:
        load_handler(f"{path}:handle")
    assert "SyntaxError" in str(raised.value)
    assert "line 1" in str(raised.value)
    assert isinstance(raised.value.__cause__, SyntaxError)


def test_missing_module_says_where_it_looked() -> None:
    name = f"no_such_module_{uuid.uuid4().hex}"
    with pytest.raises(HandlerImportError, match=f"'{name}' was not found on sys.path"):
        load_handler(f"{name}:handle")


def test_module_importing_a_missing_dependency_shows_the_users_import(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    module = f"mod_{uuid.uuid4().hex}"
    write(tmp_path / f"{module}.py", "import not_installed_dependency\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(HandlerImportError) as raised:
        load_handler(f"{module}:handle")
    assert "fix this error in it" in str(raised.value)
    assert "import not_installed_dependency" in str(raised.value)
    assert "No module named 'not_installed_dependency'" in str(raised.value)


def test_missing_attribute_lists_the_functions_the_file_defines(tmp_path: Path) -> None:
    path = write(
        tmp_path / "app.py",
        "def handler(event, context):\n    pass\n\ndef _private():\n    pass\n",
    )
    with pytest.raises(HandlerAttributeError) as raised:
        load_handler(f"{path}:handle")
    assert "has no 'handle'" in str(raised.value)
    assert "def handle(event, context):" in str(raised.value)
    assert "(functions it defines: handler)" in str(raised.value)


@pytest.mark.parametrize(("value", "said"), [("{'not': 'a function'}", "a dict"), ("42", "an int")])
def test_attribute_that_is_not_callable_is_rejected(tmp_path: Path, value: str, said: str) -> None:
    path = write(tmp_path / "app.py", f"handle = {value}\n")
    with pytest.raises(HandlerNotCallableError, match=f"'handle' is {said}, not a function"):
        load_handler(f"{path}:handle")
