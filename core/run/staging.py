"""A run's books in S3, for the operations that load a table from it (s3-import, bulk-put).

``S3Stage`` checks the bucket (creating it first on a local S3), uploads the gzipped parts one at a time, keeping each
part's latency and retries, and removes what the run put there after a local run. Every S3 refusal becomes one
``TargetError`` line that names the bucket and the fix. The caller's ``check`` runs before each part and after the
last: it raises to stop the upload (a cancelled run).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError

from core.domain.errors import TargetError
from core.domain.s3source import Part, S3Location
from core.targets.target import error_code
from core.wire import logs


@dataclass
class S3Stage:
    """One run's parts under ``location``: ``where`` names the S3 endpoint in messages, ``needs`` is the last line of
    advice when S3 refuses for another reason (what the operation needs from S3)."""

    s3: Any  # a boto3 S3 client
    location: S3Location
    run_id: str
    region: str
    where: str
    local: bool
    needs: str
    keys: list[str] = field(default_factory=list)
    latencies: list[float] = field(default_factory=list)  # ms per part PUT
    retries: int = 0
    items: int = 0
    source_bytes: int = 0

    def bucket(self) -> None:
        """The bucket exists and these credentials may use it (on a local S3, created first)."""
        bucket = self.location.bucket
        try:
            if self.local:
                where: dict[str, Any] = {}
                if self.region != "us-east-1":  # S3 refuses a bucket elsewhere without its region named
                    where = {"CreateBucketConfiguration": {"LocationConstraint": self.region}}
                with contextlib.suppress(ClientError):
                    self.s3.create_bucket(Bucket=bucket, **where)  # owned already: fine; else head_bucket says
            self.s3.head_bucket(Bucket=bucket)
        except ClientError as error:
            raise self.error(error) from None

    def upload(self, parts: Iterable[Part], check: Callable[[str], None],
               uploaded: Callable[[Part], None] = lambda _: None) -> None:
        """PUT each part under the run's folder; ``check("during")`` before each, ``check("after")`` at the end;
        ``uploaded(part)`` after each."""
        for part in parts:
            check("during")
            key = self.location.key(self.run_id, part.index)
            started = time.perf_counter()
            try:
                answer = self.s3.put_object(Bucket=self.location.bucket, Key=key, Body=part.body,
                                            ContentType="application/gzip")
            except ClientError as error:
                raise self.error(error) from None
            self.latencies.append((time.perf_counter() - started) * 1000)
            self.retries += int(answer.get("ResponseMetadata", {}).get("RetryAttempts", 0))
            self.keys.append(key)
            self.items += part.items
            self.source_bytes += part.source_bytes
            uploaded(part)
        check("after")

    def remove(self, prefix: str | None = None) -> None:
        """Delete the parts this run uploaded, or everything under ``prefix`` (e.g. a report the operation wrote);
        best effort: a local server that died takes them with it."""
        keys = self.keys
        with contextlib.suppress(Exception):
            if prefix is not None:
                pages = self.s3.get_paginator("list_objects_v2").paginate(Bucket=self.location.bucket, Prefix=prefix)
                keys = [entry["Key"] for page in pages for entry in page.get("Contents", [])]
            for start in range(0, len(keys), 1000):
                batch = [{"Key": key} for key in keys[start:start + 1000]]
                self.s3.delete_objects(Bucket=self.location.bucket, Delete={"Objects": batch, "Quiet": True})

    def cancelled(self, operation: str, when: str) -> str:
        """The line of ``operation``'s run cancelled ``when``: what was uploaded, and what is left where."""
        if self.local or not self.keys:
            left = "its parts were removed" if self.local else "nothing was uploaded"
        else:
            left = f"the parts are left at {self.location.url(self.run_id)}"
        return f"{operation} was cancelled {when}; {self.items:,} items uploaded in {len(self.keys):,} part(s); {left}"

    def error(self, error: ClientError) -> TargetError:
        """S3's refusal as one line: what was wrong with the bucket, and the fix."""
        code, bucket = error_code(error), self.location.bucket
        if code in ("404", "NoSuchBucket"):
            return TargetError(f"S3 bucket {bucket} does not exist at {self.where} (NoSuchBucket): create it in "
                               f"{self.region} or name another with --s3-bucket")
        if code in ("301", "PermanentRedirect", "AuthorizationHeaderMalformed"):
            return TargetError(f"S3 bucket {bucket} is not in {self.region} ({code}): run with the bucket's region "
                               f"(--region), or name a bucket in {self.region} with --s3-bucket")
        if code in ("403", "AccessDenied", "AllAccessDisabled"):
            return TargetError(f"S3 bucket {bucket} is not readable and writable with these credentials "
                               f"(AccessDenied): allow s3:ListBucket, s3:GetObject and s3:PutObject on it, or name "
                               "another with --s3-bucket")
        return TargetError(f"S3 at {self.where} refused {bucket} ({code}: {message(error)}): {self.needs}")


def message(error: ClientError) -> str:
    """The first line of an AWS error's message, secrets redacted, at most 200 characters."""
    text = str(error.response.get("Error", {}).get("Message", "") or "")
    return logs.redact(text.splitlines()[0][:200]) if text else "no message"
