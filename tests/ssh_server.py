"""A real SSH server on 127.0.0.1 that serves Git repositories with the real ``git-upload-pack``.

asyncssh speaks the SSH protocol (key exchange, host key, public-key authentication) to libgit2's libssh2; each
session runs ``git-upload-pack`` on a bare repository below ``root``, as an SSH Git host does.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from pathlib import Path
from typing import Any

import asyncssh


class SSHGitServer:
    """Serves ``root``'s bare repositories over SSH to the holder of ``client_key`` (user ``git``).

    Attributes:
        host_key: The server's host key (for a known_hosts line).
        client_key: The only key the server accepts.
        commands: The commands clients ran.
    """

    def __init__(self, root: Path) -> None:
        self.root = root
        self.host_key = asyncssh.generate_private_key("ssh-ed25519")
        self.client_key = asyncssh.generate_private_key("ssh-ed25519")
        self.commands: list[str] = []
        self._loop = asyncio.new_event_loop()
        self._server: Any = None
        self.port = 0

    @property
    def client_key_pem(self) -> str:
        return self.client_key.export_private_key().decode()

    def known_hosts_line(self) -> str:
        return f"[127.0.0.1]:{self.port} {self.host_key.export_public_key().decode().strip()}\n"

    def url(self, name: str) -> str:
        return f"ssh://git@127.0.0.1:{self.port}/{name}"

    def __enter__(self) -> SSHGitServer:
        server = self

        class Handler(asyncssh.SSHServer):
            def begin_auth(self, username: str) -> bool:
                return True

            def public_key_auth_supported(self) -> bool:
                return True

            def validate_public_key(self, username: str, key: asyncssh.SSHKey) -> bool:
                return username == "git" and key.public_data == server.client_key.public_data

        async def session(process: asyncssh.SSHServerProcess[bytes]) -> None:
            command = process.command or ""
            server.commands.append(command)
            verb, _, argument = command.partition(" ")
            repository = (server.root / argument.strip("'\"").lstrip("/")).resolve()
            if verb != "git-upload-pack" or not repository.is_relative_to(server.root.resolve()):
                process.exit(128)
                return
            child = await asyncio.create_subprocess_exec(
                verb, str(repository), stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE
            )
            assert child.stdin is not None
            assert child.stdout is not None
            stdin, stdout = child.stdin, child.stdout

            async def into_git() -> None:
                with contextlib.suppress(Exception):  # the client hangs up once it has the pack
                    while data := await process.stdin.read(65536):
                        stdin.write(data)
                        await stdin.drain()
                stdin.close()

            async def out_of_git() -> None:
                while data := await stdout.read(65536):
                    process.stdout.write(data)
                    await process.stdout.drain()

            feeding = asyncio.create_task(into_git())
            await out_of_git()
            code = await child.wait()
            feeding.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await feeding
            process.exit(code)

        start = asyncssh.create_server(
            Handler, "127.0.0.1", 0, server_host_keys=[self.host_key], process_factory=session, encoding=None
        )
        self._server = self._loop.run_until_complete(start)
        self.port = self._server.sockets[0].getsockname()[1]
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        async def close() -> None:
            self._server.close()
            with contextlib.suppress(Exception):
                await self._server.wait_closed()

        asyncio.run_coroutine_threadsafe(close(), self._loop).result(timeout=10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        pending = asyncio.all_tasks(self._loop)
        for task in pending:
            task.cancel()
        if pending:
            self._loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
        self._loop.run_until_complete(self._loop.shutdown_asyncgens())
        self._loop.close()
