"""A throwaway certificate authority for the conditions proxy's HTTPS (the AWS dress rehearsal).

``ThrowawayCA.create()`` writes a fresh CA (``ca_bundle``, what clients trust) and a server ``cert`` and ``key`` for
127.0.0.1, ::1 and localhost into a new private temporary directory, never inside the repository; ``remove()``
(idempotent) deletes it. A missing ``trustme`` is an ``EmulatorError`` with the fix.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from core.domain.errors import EmulatorError
from core.paths import SETUP

SERVER_NAMES = ("127.0.0.1", "::1", "localhost")


@dataclass(frozen=True)
class ThrowawayCA:
    """The files of one throwaway CA and the server certificate it signed."""

    directory: Path
    ca_bundle: Path
    cert: Path
    key: Path

    @classmethod
    def create(cls, names: tuple[str, ...] = SERVER_NAMES) -> ThrowawayCA:
        try:
            import trustme
        except ImportError:
            raise EmulatorError(f"HTTPS for the dress rehearsal needs the trustme package: {SETUP} "
                                "(pip install -r requirements.txt)") from None
        authority = trustme.CA(organization_name="DynamoDB write lab throwaway CA")
        server = authority.issue_cert(*names)
        directory = Path(tempfile.mkdtemp(prefix="lab-tls-"))  # mode 0700: only this user can read the key
        made = cls(directory, directory / "ca.pem", directory / "server.pem", directory / "server.key")
        try:
            authority.cert_pem.write_to_path(str(made.ca_bundle))
            with open(os.open(made.cert, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb") as chain:
                for blob in server.cert_chain_pems:
                    chain.write(blob.bytes())
            with open(os.open(made.key, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb") as key:
                key.write(server.private_key_pem.bytes())
        except OSError as error:
            made.remove()
            raise EmulatorError(f"could not write the throwaway CA's files in {directory}: {error.strerror}") from None
        return made

    def remove(self) -> None:
        shutil.rmtree(self.directory, ignore_errors=True)
