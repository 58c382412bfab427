"""Connector type ``cli``: one attempt of a declared command is one run of its program."""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from patchwire.config import ConnectorConfig
from patchwire.connector import Attempt, Capability, Connector, ConnectorContext, Setting, ToolInfo
from patchwire.errors import Category, IntegrationError, InvalidRequestError
from patchwire.redact import MASK
from patchwire.types import CompletionRequest, EmbeddingRequest, ToolRequest, ToolResult

from patchwire_cli import __version__
from patchwire_cli.commands import (
    DEFAULT_ENV,
    DEFAULT_KILL_GRACE,
    DEFAULT_MAX_OUTPUT,
    DEFAULT_MAX_STDERR,
    Command,
    inherited,
    parse_settings,
)
from patchwire_cli.exitcodes import describe_status
from patchwire_cli.output import parse_output
from patchwire_cli.process import OutputTooLarge, run

__all__ = ["CliConnector", "CommandFailed"]

_LIST_TOOLS = "tools/list"  # the request the pipeline validates before list_tools
_STDERR_IN_MESSAGE = 2000  # characters of stderr's end quoted in an error


class CommandFailed(Exception):
    """A program ended with a status its command maps to an error category.

    The plugin's ``patchwire_classify_error`` turns it into that category; the message
    carries the end of stderr (credentials of the call masked).
    """

    def __init__(self, command: str, status: int, category: Category, stderr: str) -> None:
        text = f"command '{command}' {describe_status(status)}"
        tail = stderr.strip()[-_STDERR_IN_MESSAGE:]
        if tail:
            text += f"; stderr: {tail}"
        super().__init__(text)
        self.message = text
        self.command = command
        self.status = status
        self.category = category
        self.stderr = stderr


Request = CompletionRequest | EmbeddingRequest | ToolRequest


class CliConnector(Connector):
    """Runs declared commands without a shell; see the package README for the configuration."""

    type_name = "cli"
    version = __version__
    capabilities = frozenset({Capability.TOOL})
    settings: ClassVar[Mapping[str, Setting]] = {
        "commands": Setting(
            (dict,),
            {},
            "the commands this tool runs, one [connectors.NAME.commands.CMD] table each",
        ),
        "env": Setting(
            (list,),
            list(DEFAULT_ENV),
            "environment variables every command inherits (an allowlist)",
        ),
        "env_secrets": Setting(
            (dict,), {}, 'variables set from credential references: {GITHUB_TOKEN = "env:GH_TOKEN"}'
        ),
        "path": Setting(
            (str,), None, "PATH searched for programs and given to them (default: this process's)"
        ),
        "cwd": Setting((str,), None, "working directory of every command"),
        "exit_codes": Setting(
            (dict,), {}, 'exit statuses mapped to categories: {2 = "invalid_request", 1 = "ok"}'
        ),
        "max_output": Setting((int,), DEFAULT_MAX_OUTPUT, "bytes of standard output allowed"),
        "max_stderr": Setting((int,), DEFAULT_MAX_STDERR, "bytes of standard error kept (the end)"),
        "kill_grace": Setting(
            (int, float),
            DEFAULT_KILL_GRACE,
            "seconds between SIGTERM and SIGKILL when a run is stopped",
        ),
    }

    def __init__(self, ctx: ConnectorContext) -> None:
        super().__init__(ctx)
        parsed = parse_settings(ctx.config)
        self.commands: Mapping[str, Command] = parsed.commands
        self.kill_grace = parsed.kill_grace
        self._slots = {
            name: asyncio.Semaphore(command.max_concurrency)
            for name, command in self.commands.items()
            if command.max_concurrency is not None
        }

    @classmethod
    def check_config(cls, config: ConnectorConfig) -> None:
        parse_settings(config)

    def _command(self, name: str) -> Command:
        command = self.commands.get(name)
        if command is None:
            raise InvalidRequestError(
                f"tool '{self.name}' has no command '{name}'; its commands: {', '.join(sorted(self.commands))}",
                connector=self.name,
            )
        return command

    def validate(self, request: Request) -> None:
        if isinstance(request, ToolRequest) and request.operation != _LIST_TOOLS:
            self._command(request.operation).bind(request.arguments)

    def limit_key(self, request: Request) -> str | None:
        # Rate limits and concurrency apply to each command on its own.
        if isinstance(request, ToolRequest) and request.operation in self.commands:
            return request.operation
        return None

    def is_deterministic(self, request: Request) -> bool:
        if isinstance(request, ToolRequest) and request.operation in self.commands:
            return self.commands[request.operation].cache
        return False

    def timeout_for(self, request: Request) -> float | None:
        """A command's own ``timeout``, else the connector's."""
        if isinstance(request, ToolRequest) and request.operation in self.commands:
            return self.commands[request.operation].timeout
        return None

    def ttl_for(self, request: Request) -> float | None:
        """A command's own ``ttl``, else the connector's ``[cache] ttl``."""
        if isinstance(request, ToolRequest) and request.operation in self.commands:
            return self.commands[request.operation].ttl
        return None

    def _secrets(self, command: Command) -> dict[str, str]:
        return {
            variable: self.ctx.secrets.resolve(
                reference, where=f"{self.name}: env_secrets.{variable}"
            ).reveal()
            for variable, reference in command.env_secrets.items()
        }

    @staticmethod
    def _environment(command: Command, secrets: Mapping[str, str]) -> dict[str, str]:
        env = inherited(command.env, os.environ)
        if command.search_path is not None:
            env["PATH"] = command.search_path
        env.update(secrets)
        return env

    @staticmethod
    def _scrub(text: str, secrets: Mapping[str, str]) -> str:
        for value in secrets.values():
            if len(value) >= 4:
                text = text.replace(value, MASK)
        return text

    async def call_tool(self, request: ToolRequest, attempt: Attempt) -> ToolResult:
        command = self._command(request.operation)
        invocation = command.bind(request.arguments)
        secrets = self._secrets(command)
        slot: contextlib.AbstractAsyncContextManager[Any] = (
            self._slots.get(command.name) or contextlib.nullcontext()
        )
        async with slot:
            try:
                finished = await run(
                    invocation.argv,
                    stdin=invocation.stdin,
                    cwd=command.cwd,
                    env=self._environment(command, secrets),
                    max_output=command.max_output,
                    max_stderr=command.max_stderr,
                    grace=self.kill_grace,
                )
            except OutputTooLarge as exc:
                raise IntegrationError(
                    f"command '{command.name}' printed more than {exc.limit} bytes and was stopped;"
                    " raise max_output if that much output is expected",
                    connector=self.name,
                ) from None
            except OSError as exc:
                # Found at load, gone or no longer executable now.
                raise IntegrationError(
                    f"command '{command.name}' could not start {command.executable}:"
                    f" {exc.strerror or exc}",
                    connector=self.name,
                ) from None
        stderr = self._scrub(finished.stderr.decode("utf-8", errors="replace"), secrets)
        category = command.exit_codes.category(finished.status)
        if category is not None:
            raise CommandFailed(command.name, finished.status, category, stderr)
        text = finished.stdout.decode("utf-8", errors="replace")
        return ToolResult(
            output=parse_output(command.output, text, command.name),
            text=text,
            metadata={
                "command": command.name,
                "exit_code": finished.status,
                "stderr": stderr,
                "stderr_truncated": finished.stderr_dropped > 0,
            },
        )

    async def list_tools(self, attempt: Attempt) -> Sequence[ToolInfo]:
        return [
            ToolInfo(name, command.description, command.input_schema())
            for name, command in sorted(self.commands.items())
        ]
