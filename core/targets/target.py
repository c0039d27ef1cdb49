"""Where the lab writes: the embedded emulator, LocalStack, real AWS, or any DynamoDB-compatible URL.

A ``Target`` is frozen and validated on construction (``ConfigError``); it gives boto3 clients, the resolved endpoint
and a credentials provider, and sends nothing itself. ``trusted_ca``/``ssl_context`` decide once, for every client,
which CAs verify HTTPS: the target's ``ca_bundle``, else ``AWS_CA_BUNDLE`` or the profile's, else botocore's.
Certificates are always verified; a plain-HTTP endpoint never reads a bundle.
"""

from __future__ import annotations

import os
import socket
import ssl
import urllib.parse
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any

import boto3
import botocore.session
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, ProfileNotFound

from core.domain.endpoints import (
    DEFAULT_REGION,
    LOCALSTACK_START,
    MANAGED,
    Kind,
    is_local_url,
    localstack_endpoint,
    proxy_for,
    validate_endpoint_url,
    validate_kind,
    validate_region,
)
from core.domain.errors import ConfigError, EmulatorError, TargetError
from core.domain.numbers import number, whole
from core.domain.plan import RetryMode
from core.wire import logs
from core.wire.failures import tls_failure
from core.wire.sigv4 import Credentials

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

LOCAL_CREDENTIALS = Credentials("testing", "testing")  # emulators accept any key; moto's conventional pair


def error_code(error: ClientError) -> str:
    """The error code botocore parsed from a refused request ("" when it found none)."""
    return str(error.response.get("Error", {}).get("Code", ""))


@dataclass(frozen=True)
class Target:
    """A DynamoDB endpoint and how to authenticate to it."""

    kind: Kind
    region: str = DEFAULT_REGION
    endpoint_url: str | None = None  # None: botocore resolves the AWS endpoint for the region
    profile: str | None = None
    static_credentials: Credentials | None = field(default=None, repr=False)
    ca_bundle: str | None = None  # a CA certificate file to trust for this target alone (the dress rehearsal's)

    def __post_init__(self) -> None:
        validate_kind(self.kind)
        validate_region(self.region)
        if self.ca_bundle is not None and not os.path.isfile(self.ca_bundle):
            raise ConfigError(f"the CA bundle {self.ca_bundle} does not exist: give the path of a PEM file")
        if self.endpoint_url is not None:
            object.__setattr__(self, "endpoint_url", validate_endpoint_url(self.endpoint_url))
        elif self.kind != "aws":
            raise ConfigError(f"the {self.kind} target needs an endpoint URL (--endpoint-url)")

    @property
    def is_local(self) -> bool:
        return is_local_url(self.endpoint_url)

    @property
    def where(self) -> str:
        """The endpoint as messages name it: its URL, or "AWS <region>"."""
        return self.endpoint_url or f"AWS {self.region}"

    @property
    def trust_env_proxy(self) -> bool:
        """Whether an aiohttp client reads HTTP_PROXY/HTTPS_PROXY/NO_PROXY for this target (``trust_env``): never for
        a loopback one (``proxy_for``)."""
        return not self.is_local

    @property
    def https(self) -> bool:
        """The endpoint is HTTPS (AWS's always is): certificates to verify, ``trusted_ca`` to resolve."""
        return self.endpoint_url is None or self.endpoint_url.lower().startswith("https://")

    @property
    def local_credentials(self) -> Credentials | None:
        """The keys a loopback target gets when none were typed or named: the environment's, else a dummy pair.
        boto3's full chain is never asked for a loopback target (it would reach the instance-metadata service off
        this machine)."""
        if self.static_credentials is not None or self.profile is not None:
            return None
        if self.kind in (*MANAGED, "localstack"):  # engines that accept any key: never a user's real one
            return LOCAL_CREDENTIALS
        if not self.is_local:
            return None
        key, secret = os.environ.get("AWS_ACCESS_KEY_ID"), os.environ.get("AWS_SECRET_ACCESS_KEY")
        if key and secret:
            return Credentials(key, secret, os.environ.get("AWS_SESSION_TOKEN") or None)
        return LOCAL_CREDENTIALS

    @property
    def uses_default_chain(self) -> bool:
        """True when credentials come from boto3's chain (env, profiles, SSO, roles), not typed or local keys."""
        return self.static_credentials is None and self.local_credentials is None

    @cached_property
    def _session(self) -> boto3.Session:
        """One boto3 session per target, built on first use (sessions are not thread-safe: build clients here)."""
        creds = self.static_credentials or self.local_credentials
        if creds is not None:
            logs.remember(creds.secret_key, creds.token)
        try:
            if creds is not None:
                return boto3.Session(aws_access_key_id=creds.access_key, aws_secret_access_key=creds.secret_key,
                                     aws_session_token=creds.token, region_name=self.region)
            return boto3.Session(profile_name=self.profile, region_name=self.region)
        except ProfileNotFound:
            named = self.profile or os.environ.get("AWS_PROFILE") or os.environ.get("AWS_DEFAULT_PROFILE")
            raise ConfigError(f"AWS profile {named!r} is not in your AWS config (~/.aws/config): pick another, "
                              "or unset AWS_PROFILE") from None

    @cached_property
    def trusted_ca(self) -> str:
        """The CA certificate file every client verifies this target's HTTPS certificate against: the target's own
        ``ca_bundle``, else ``AWS_CA_BUNDLE`` or the profile's ``ca_bundle`` (as botocore resolves them), else
        botocore's default bundle. A configured file that does not exist is a ``ConfigError`` naming the setting.
        A plain-HTTP endpoint (a local engine) has no certificate to verify: the configured bundle is not read for
        it (a stale AWS_CA_BUNDLE must not stop a run that never uses it), botocore's default stands in."""
        if self.ca_bundle is not None:
            return self.ca_bundle
        configured = self._session._session.get_config_variable("ca_bundle") if self.https else None
        if configured:
            if not os.path.isfile(configured):
                raise ConfigError(f"the CA bundle {configured} (AWS_CA_BUNDLE or your profile's ca_bundle) does not "
                                  "exist: fix the path, or unset it to trust the usual certificate authorities")
            return str(configured)
        from botocore.httpsession import get_cert_path

        return str(get_cert_path(True))

    def ssl_context(self) -> ssl.SSLContext:
        """An SSL context for the aiohttp clients: verifies the certificate and host name against ``trusted_ca``
        (aiohttp sends the host name as SNI)."""
        try:
            return ssl.create_default_context(cafile=self.trusted_ca)
        except ssl.SSLError as error:
            raise ConfigError(f"the CA bundle {self.trusted_ca} is not a PEM certificate file ({error.reason}): "
                              "fix AWS_CA_BUNDLE or your profile's ca_bundle") from None

    def credentials(self) -> Credentials:
        """Current frozen credentials (botocore refreshes temporary ones before they expire)."""
        try:
            found = self._session.get_credentials()
        except BotoCoreError as error:
            raise TargetError(f"could not load AWS credentials: {error}") from None
        if found is None:
            raise TargetError("no AWS credentials found: set AWS_PROFILE, run `aws configure` or `aws sso login`")
        frozen = found.get_frozen_credentials()
        logs.remember(frozen.secret_key, frozen.token)
        return Credentials(frozen.access_key or "", frozen.secret_key or "", frozen.token)

    def credentials_provider(self) -> Callable[[], Credentials]:
        return self.credentials

    def client_config(self, *, pool: int = 10, max_attempts: int = 1, timeout: float = 10.0,
                      mode: RetryMode = "standard") -> Config:
        """botocore config: pool sized to the caller's threads; by default one attempt per call, since the writers
        retry through the lab's own loop (tables and verification ask for botocore's retries). ``mode`` adaptive
        turns on botocore's client-side rate limiter (it acts on every attempt, retried or not). A loopback target
        gets an empty proxy map, so botocore never reads HTTP_PROXY/HTTPS_PROXY for it (``proxy_for``)."""
        return Config(
            region_name=self.region,
            max_pool_connections=max(pool, 1),
            retries={"mode": mode, "total_max_attempts": max_attempts},
            connect_timeout=timeout,
            read_timeout=timeout,
        ).merge(self.proxy_config())

    def client(self, *, pool: int = 10, max_attempts: int = 1, timeout: float = 10.0,
               mode: RetryMode = "standard") -> DynamoDBClient:
        """A thread-safe boto3 DynamoDB client for this target."""
        return self._session.client(
            "dynamodb", endpoint_url=self.endpoint_url, verify=self.trusted_ca,
            config=self.client_config(pool=pool, max_attempts=max_attempts, timeout=timeout, mode=mode))

    def resource(self, *, pool: int = 10) -> Any:
        """boto3's DynamoDB resource for this target as a user's code makes it (the as-shipped approaches): the
        target's keys, region, endpoint and CA bundle, and botocore's retries and timeouts left as the environment
        and profile configure them (botocore's defaults otherwise); no proxy for a loopback target
        (``proxy_config``)."""
        config = Config(region_name=self.region, max_pool_connections=max(pool, 1)).merge(self.proxy_config())
        return self._session.resource("dynamodb", endpoint_url=self.endpoint_url, verify=self.trusted_ca,
                                      config=config)

    def proxy_config(self) -> Config:
        """The proxy part of every botocore config for this target: an empty proxy map for a loopback one (botocore
        then never reads HTTP_PROXY/HTTPS_PROXY), the environment's otherwise. For a library that makes its own
        clients, set it as its botocore session's default client config (``set_default_client_config``)."""
        return Config(proxies={} if self.is_local else None)

    def boto3_session(self) -> boto3.Session:
        """The target's boto3 session, for a library that takes one (awswrangler). Not thread-safe: make its
        clients in one thread."""
        return self._session

    def s3_client(self, *, max_attempts: int = 5, timeout: float = 60.0) -> Any:
        """A boto3 S3 client with this target's credentials and region (s3-import); on an endpoint URL (moto), S3
        is served at that same URL, path-style."""
        config = self.client_config(max_attempts=max_attempts, timeout=timeout)
        if self.endpoint_url:
            config = config.merge(Config(s3={"addressing_style": "path"}))
        return self._session.client("s3", endpoint_url=self.endpoint_url, verify=self.trusted_ca, config=config)

    def resolved_endpoint(self) -> str:
        """The endpoint botocore resolves for this target (region, FIPS and dual-stack settings honoured)."""
        return str(self.client().meta.endpoint_url)


def _choice(*values: str) -> tuple[str, Callable[[str], bool]]:
    return f"{', '.join(values[:-1])} or {values[-1]}", lambda text: text.lower() in values


def _whole_from(low: int, high: int | None = None) -> tuple[str, Callable[[str], bool]]:
    def ok(text: str) -> bool:
        try:
            value = whole(text)
        except ValueError:
            return False
        return value >= low and (high is None or value <= high)

    return f"a whole number from {low}" + (f" to {high:,}" if high is not None else ""), ok


def _seconds_ok(text: str) -> bool:
    try:
        return number(text) > 0
    except ValueError:
        return False


_TRUE_FALSE = _choice("true", "false")
AWS_ENVIRONMENT: dict[str, tuple[str, Callable[[str], bool]]] = {  # what botocore and the official SDK read
    "AWS_MAX_ATTEMPTS": _whole_from(1),
    "AWS_RETRY_MODE": _choice("legacy", "standard", "adaptive"),
    "AWS_DEFAULTS_MODE": _choice("legacy", "standard", "in-region", "cross-region", "mobile", "auto"),
    "AWS_STS_REGIONAL_ENDPOINTS": _choice("legacy", "regional"),
    "AWS_REQUEST_CHECKSUM_CALCULATION": _choice("when_supported", "when_required"),
    "AWS_RESPONSE_CHECKSUM_VALIDATION": _choice("when_supported", "when_required"),
    "AWS_ACCOUNT_ID_ENDPOINT_MODE": _choice("preferred", "disabled", "required"),
    "AWS_REQUEST_MIN_COMPRESSION_SIZE_BYTES": _whole_from(0, 10_485_760),
    "AWS_METADATA_SERVICE_TIMEOUT": ("a number of seconds above 0", _seconds_ok),
    "AWS_METADATA_SERVICE_NUM_ATTEMPTS": _whole_from(1),
    "AWS_USE_FIPS_ENDPOINT": _TRUE_FALSE,
    "AWS_USE_DUALSTACK_ENDPOINT": _TRUE_FALSE,
    "AWS_EC2_METADATA_DISABLED": _TRUE_FALSE,
    "AWS_DISABLE_REQUEST_COMPRESSION": _TRUE_FALSE,
}


def check_aws_environment(environ: Mapping[str, str] = os.environ) -> None:
    """``ConfigError`` naming the first AWS SDK setting in the environment whose value botocore or the official SDK
    would refuse mid-run (or silently misread): checked before a run starts, whatever its approaches."""
    for name, (expected, ok) in AWS_ENVIRONMENT.items():
        value = environ.get(name, "").strip()
        if value and not ok(value):
            raise ConfigError(f"the environment variable {name}={value[:40]!r} is not valid: the AWS SDKs expect "
                              f"{expected}; fix or unset it (unset {name})")


def make_target(kind: Kind, *, endpoint_url: str | None = None, region: str | None = None,
                profile: str | None = None, credentials: Credentials | None = None,
                server_url: str | None = None) -> Target:
    """Build a target from user input; ``server_url`` is the URL of the server the lab started for the kinds it
    manages (the embedded emulator, DynamoDB Local)."""
    region = region or DEFAULT_REGION
    if kind in MANAGED:
        if endpoint_url is not None:
            raise ConfigError(f"--endpoint-url is for the custom and localstack targets, not {kind}")
        if server_url is None:
            raise EmulatorError(f"the {kind} server is not running: start it before building its target")
        return Target(kind, region, server_url)
    if kind == "localstack":
        return Target("localstack", region, endpoint_url or localstack_endpoint())
    if kind == "aws":
        return Target("aws", region, endpoint_url, profile=profile, static_credentials=credentials)
    if kind == "custom":
        if not endpoint_url:
            raise ConfigError("the custom target needs --endpoint-url, e.g. http://127.0.0.1:5000 for a moto server")
        return Target("custom", region, endpoint_url, profile=profile, static_credentials=credentials)
    validate_kind(kind)
    raise ConfigError(f"unknown target {kind!r}")


def aws_profiles() -> list[str]:
    """Profiles in the user's AWS config and credentials files."""
    return sorted(botocore.session.Session().available_profiles)


def check_reachable(target: Target, timeout: float = 5.0) -> None:
    """One cheap call (ListTables, no retry): raises ``TargetError`` with the fix when the target cannot be used."""
    from botocore.exceptions import ClientError, EndpointConnectionError, NoCredentialsError

    from core.wire.protocol import client_error
    from core.wire.retry import explain

    where = target.where
    hint = (f"run `{LOCALSTACK_START[0]}` (or `{LOCALSTACK_START[1]}` without Docker)" if target.kind == "localstack"
            else "start it or fix the endpoint URL")
    if target.endpoint_url is not None and proxy_for(target.endpoint_url) is None \
            and not _connectable(target.endpoint_url, timeout):
        # before credentials are looked for: an endpoint that is not there is the problem to name
        raise TargetError(f"{target.kind} target is not reachable at {where}: {hint}")
    try:
        target.client(max_attempts=1, timeout=timeout).list_tables(Limit=1)
    except NoCredentialsError:
        raise TargetError("no AWS credentials found: set AWS_PROFILE or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, "
                          "or run `aws configure` / `aws sso login`") from None
    except EndpointConnectionError:
        raise TargetError(f"{target.kind} target is not reachable at {where}: {hint}") from None
    except ClientError as error:
        raise TargetError(f"{where} refused the request: {explain(*client_error(error.response))}") from None
    except BotoCoreError as error:
        tls = tls_failure(error)
        if tls is not None:  # nothing was sent: the certificate (or the handshake) is the problem to name
            raise TargetError(f"{where} was not trusted: {explain(*tls)}") from None
        raise TargetError(f"{target.kind} target at {where} did not answer: {error}") from None


def _connectable(url: str, timeout: float) -> bool:
    """A TCP connection to the URL's host and port can be opened (nothing is sent)."""
    parts = urllib.parse.urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        with socket.create_connection((parts.hostname or "", port), timeout=timeout):
            return True
    except OSError:
        return False


def describe_caller(target: Target) -> dict[str, Any]:
    """STS GetCallerIdentity for an AWS target (account, ARN), raising ``TargetError`` with a readable line."""
    from botocore.exceptions import ClientError

    try:
        answer = target._session.client("sts", region_name=target.region,
                                         verify=target.trusted_ca).get_caller_identity()
    except (BotoCoreError, ClientError) as error:
        raise TargetError(f"AWS refused the credentials: {error}") from None
    return {"account": answer["Account"], "arn": answer["Arn"]}
