"""Declared commands: what ``[connectors.NAME.commands.CMD]`` tables say, checked at load.

Everything that can be wrong in a declaration is refused when the hub is created, naming
the table and key: a malformed template, an unknown output mode, a bad exit-code table, a
working directory that does not exist, and above all a program that cannot be found (the
message names the binary and the PATH searched).
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Mapping
from typing import Any

import attrs
from patchwire.config import ConnectorConfig
from patchwire.config_table import Table
from patchwire.config_values import shown
from patchwire.errors import InvalidRequestError
from patchwire.run_tools import ArgumentType, arguments_schema, parse_argument_types
from patchwire.secrets import split_reference

from patchwire_cli.argv import ArgvTemplate, TemplateError
from patchwire_cli.exitcodes import ExitCodes, parse_exit_codes
from patchwire_cli.output import OutputMode

__all__ = [
    "DEFAULT_ENV",
    "DEFAULT_KILL_GRACE",
    "DEFAULT_MAX_OUTPUT",
    "DEFAULT_MAX_STDERR",
    "CliSettings",
    "Command",
    "Invocation",
    "find_program",
    "inherited",
    "parse_settings",
]

#: variables a program inherits unless the configuration lists others; a name ending in
#: ``*`` stands for every variable it prefixes (``LC_*``: the locale categories)
DEFAULT_ENV = ("PATH", "HOME", "LANG", "LC_*", "TMPDIR", "TZ")
DEFAULT_MAX_OUTPUT = 16 * 1024 * 1024
DEFAULT_MAX_STDERR = 64 * 1024
DEFAULT_KILL_GRACE = 2.0

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]*")
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_ENV_PATTERN = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\*?")
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")

_COMMAND_KEYS = (
    "argv",
    "stdin",
    "cwd",
    "env",
    "env_secrets",
    "output",
    "exit_codes",
    "max_output",
    "max_stderr",
    "max_concurrency",
    "cache",
    "allow_options",
    "defaults",
    "description",
    "timeout",
    "ttl",
    "arguments",
)


def inherited(names: tuple[str, ...], environ: Mapping[str, str]) -> dict[str, str]:
    """The variables of ``environ`` that ``names`` allows (``LC_*`` allows every ``LC_`` one)."""
    exact = {name for name in names if not name.endswith("*")}
    prefixes = tuple(name[:-1] for name in names if name.endswith("*"))
    return {
        name: value
        for name, value in environ.items()
        if name in exact or (prefixes and name.startswith(prefixes))
    }


@attrs.frozen
class Invocation:
    argv: list[str]
    stdin: bytes | None


def _text(name: str, value: Any) -> str:
    if isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, str | int | float):
        text = str(value)
    else:
        raise InvalidRequestError(
            f"argument '{name}' must be a string or a number, got {type(value).__name__}"
        )
    if "\x00" in text:
        raise InvalidRequestError(
            f"argument '{name}' contains a NUL byte, which no argv item can hold"
        )
    return text


@attrs.frozen
class Command:
    """One declared command, ready to run."""

    name: str
    argv: ArgvTemplate
    executable: str  # absolute path, found at load
    stdin: str | None  # the argument fed to standard input
    cwd: str | None
    env: tuple[str, ...]
    env_secrets: Mapping[str, str]  # variable -> credential reference
    search_path: str | None  # PATH given to the program instead of the inherited one
    output: OutputMode
    exit_codes: ExitCodes
    max_output: int
    max_stderr: int
    max_concurrency: int | None
    cache: bool
    allow_options: bool
    defaults: Mapping[str, Any]
    description: str
    #: seconds one run may take (None: the connector's ``timeout``)
    timeout: float | None = None
    #: seconds a cached answer is served (None: the connector's ``[cache] ttl``; 0: never)
    ttl: float | None = None
    #: declared argument types (``arguments`` table); undeclared ones are strings
    argument_types: Mapping[str, ArgumentType] = attrs.field(factory=dict)

    def input_schema(self) -> dict[str, Any]:
        """The JSON Schema a model is offered for this command's arguments."""
        return arguments_schema(
            self.arguments, self.required, self.argument_types, {"type": "string"}
        )

    @property
    def arguments(self) -> frozenset[str]:
        names = set(self.argv.fields)
        if self.stdin is not None:
            names.add(self.stdin)
        return frozenset(names)

    @property
    def required(self) -> frozenset[str]:
        return self.arguments - self.defaults.keys()

    def bind(self, arguments: Mapping[str, Any]) -> Invocation:
        """The argv and input for these arguments, or ``InvalidRequestError`` saying what is wrong."""
        given = {**self.defaults, **arguments}
        takes = ", ".join(sorted(self.arguments)) or "no arguments"
        missing = sorted(self.arguments - given.keys())
        if missing:
            raise InvalidRequestError(
                f"command '{self.name}' needs argument(s) {', '.join(missing)}; it takes: {takes}"
            )
        unexpected = sorted(given.keys() - self.arguments)
        if unexpected:
            raise InvalidRequestError(
                f"command '{self.name}' has no argument(s) {', '.join(unexpected)}; it takes: {takes}"
            )
        for name, declared in self.argument_types.items():
            problem = declared.problem(given[name]) if name in given else None
            if problem is not None:
                raise InvalidRequestError(f"command '{self.name}': argument '{name}': {problem}")
        values = {name: _text(name, given[name]) for name in self.argv.fields}
        argv = self.argv.render(values, allow_options=self.allow_options, command=self.name)
        argv[0] = self.executable
        data: bytes | None = None
        if self.stdin is not None:
            raw = given[self.stdin]
            if isinstance(raw, bytes):
                data = raw
            elif isinstance(raw, str):
                data = raw.encode("utf-8")
            else:
                raise InvalidRequestError(
                    f"argument '{self.stdin}' goes to standard input and must be text or bytes,"
                    f" got {type(raw).__name__}"
                )
        return Invocation(argv, data)


def find_program(program: str, search_path: str, cwd: str | None) -> str | None:
    """The absolute path of an executable ``program``, or None."""
    if os.sep in program:
        candidate = program if os.path.isabs(program) else os.path.join(cwd or os.getcwd(), program)
        if os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return os.path.abspath(candidate)
        return None
    found = shutil.which(program, path=search_path)
    return os.path.abspath(found) if found is not None else None


def _env_names(table: Table, key: str, default: tuple[str, ...]) -> tuple[str, ...]:
    names = table.strings(key, default)
    for name in names:
        if not _ENV_PATTERN.fullmatch(name):
            raise table.error(
                key,
                f"{name!r} is not an environment variable name (or a prefix ending in '*',"
                " such as 'LC_*')",
            )
    return names


def _env_secrets(table: Table, key: str) -> dict[str, str]:
    sub = table.table(key)
    out: dict[str, str] = {}
    for name, reference in sub.raw.items():
        if not _ENV_NAME.fullmatch(name):
            raise table.error(key, f"{name!r} is not an environment variable name")
        # Never echo the value: it may be a credential pasted where a reference belongs.
        if not isinstance(reference, str) or split_reference(reference) is None:
            raise sub.error(
                name,
                "expected a credential reference such as 'env:NAME' or 'file:/path'; credentials"
                " never go in configuration",
            )
        out[name] = reference
    return out


def _cwd(table: Table, default: str | None) -> str | None:
    cwd = table.string("cwd", default)
    if cwd is not None and not os.path.isdir(cwd):
        raise table.error(
            "cwd", f"the working directory ({shown(cwd)}) does not exist or is not a directory"
        )
    return cwd


def _command(name: str, table: Table, base: Table) -> Command:
    table.check_keys(_COMMAND_KEYS)
    if "argv" not in table.raw:
        raise table.error("argv", "missing; give the program and its arguments as a list")
    try:
        argv = ArgvTemplate.parse(table.strings("argv", ()))
    except TemplateError as exc:
        raise table.error("argv", str(exc)) from None
    search_path = base.string("path")
    cwd = _cwd(table, _cwd(base, None))
    lookup = search_path if search_path is not None else os.environ.get("PATH", os.defpath)
    executable = find_program(argv.program, lookup, cwd)
    if executable is None:
        where = (
            f"not found on PATH (searched: {lookup})"
            if os.sep not in argv.program
            else "does not exist or is not executable"
        )
        raise table.error("argv", f"executable '{argv.program}' {where}")
    stdin = table.string("stdin")
    if stdin is not None and not _IDENTIFIER.fullmatch(stdin):
        raise table.error("stdin", f"the value ({shown(stdin)}) is not an argument name")
    try:
        output = OutputMode(table.string("output") or OutputMode.TEXT.value)
    except ValueError:
        modes = ", ".join(m.value for m in OutputMode)
        raise table.error("output", f"expected one of: {modes}") from None
    exit_codes = parse_exit_codes(table.table("exit_codes").raw, table.where, "exit_codes").over(
        parse_exit_codes(base.table("exit_codes").raw, base.where, "exit_codes")
    )
    command = Command(
        name=name,
        argv=argv,
        executable=executable,
        stdin=stdin,
        cwd=cwd,
        env=_env_names(base, "env", DEFAULT_ENV) + _env_names(table, "env", ()),
        env_secrets={**_env_secrets(base, "env_secrets"), **_env_secrets(table, "env_secrets")},
        search_path=search_path,
        output=output,
        exit_codes=exit_codes,
        max_output=table.integer(
            "max_output", base.integer("max_output", DEFAULT_MAX_OUTPUT, minimum=1), minimum=1
        ),
        max_stderr=table.integer(
            "max_stderr", base.integer("max_stderr", DEFAULT_MAX_STDERR, minimum=0), minimum=0
        ),
        max_concurrency=table.optional_integer("max_concurrency", minimum=1),
        cache=table.boolean("cache", False),
        allow_options=table.boolean("allow_options", False),
        defaults=dict(table.table("defaults").raw),
        description=table.string("description", "") or "",
        timeout=table.seconds("timeout", zero=False),
        ttl=table.seconds("ttl", zero=True),
    )
    declared = parse_argument_types(
        table.table("arguments").raw,
        command.arguments,
        lambda message: table.error("arguments", message),
    )
    command = attrs.evolve(command, argument_types=declared)
    unknown = sorted(command.defaults.keys() - command.arguments)
    if unknown:
        raise table.error(
            "defaults",
            f"{', '.join(unknown)} is not an argument of this command; it takes:"
            f" {', '.join(sorted(command.arguments)) or 'no arguments'}",
        )
    return command


@attrs.frozen
class CliSettings:
    commands: Mapping[str, Command]
    kill_grace: float  # seconds between SIGTERM and SIGKILL


def parse_settings(config: ConnectorConfig) -> CliSettings:
    """A ``cli`` connector's settings and every declared command, checked."""
    base = Table(config.settings, config.where)
    return CliSettings(
        commands=_commands(base, config),
        kill_grace=base.number("kill_grace", DEFAULT_KILL_GRACE, minimum=0),
    )


def _commands(base: Table, config: ConnectorConfig) -> dict[str, Command]:
    commands = base.table("commands")
    if not commands.raw:
        raise config.where.error(
            "commands",
            'declare at least one command, e.g. [connectors.NAME.commands.convert] argv = ["pandoc", "-t", "{to}"]',
        )
    out: dict[str, Command] = {}
    for name in commands.raw:
        if not _NAME.fullmatch(name):
            raise commands.error(
                name, "a command name is a letter or _ followed by letters, digits, '_', '.' or '-'"
            )
        out[name] = _command(name, commands.table(name), base)
    return out
