"""The hand-written signer against botocore's SigV4Auth, per DynamoDB PutItem-shaped request.

    python -m bench.bench_signer [--n 20000] [--rounds 5]

Each round signs the same N requests (temporary credentials) with ``core.wire.sigv4.sign``, ``Signer.sign`` (checked
equal first) and ``SigV4Auth.add_auth``, alternating the order; prints the median microseconds per signature and
whether the target (<= 1/3 of botocore's) is met.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import platform
import random
import statistics
import time
from collections.abc import Callable
from unittest import mock

import botocore
import botocore.auth
import botocore.awsrequest
import botocore.credentials

from core.wire.sigv4 import Credentials, Signer, sign

URL = "https://dynamodb.us-east-1.amazonaws.com/"
HEADERS = {"Content-Type": "application/x-amz-json-1.0", "X-Amz-Target": "DynamoDB_20120810.PutItem"}
KEY, SECRET, TOKEN = "ASIAEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "IQoJb3JpZ2luX2VjE" * 24
TARGET = 1 / 3


def put_item_bodies(n: int, seed: int = 1) -> list[bytes]:
    """N PutItem bodies of a few hundred bytes, as the lab's writers send them (some titles not ASCII)."""
    rng = random.Random(seed)
    words = ["Der", "Zauberberg", "Ulysses", "Lolita", "Война", "и", "мир", "百年孤独", "Dune", "Émile", "Middlemarch"]
    return [json.dumps({"TableName": "Books", "Item": {
        "isbn": {"S": f"978-{rng.randrange(10**9):09d}-{i % 10}"},
        "title": {"S": " ".join(rng.choices(words, k=rng.randint(1, 6)))},
        "author": {"S": " ".join(rng.choices(words, k=2))},
        "year": {"N": str(rng.randint(1500, 2024))},
        "pages": {"N": str(rng.randint(40, 1400))},
        "price": {"N": f"{rng.uniform(3, 90):.2f}"},
    }}, ensure_ascii=False).encode() for i in range(n)]


def check_equivalent(body: bytes, auth: botocore.auth.SigV4Auth, credentials: Credentials) -> None:
    """Both sign the same request the same way (same Authorization at a frozen time), or the race means nothing."""
    now = dt.datetime(2026, 11, 28, 12, 0, tzinfo=dt.UTC)
    request = botocore.awsrequest.AWSRequest("POST", URL, headers=dict(HEADERS), data=body)
    with mock.patch.object(botocore.auth, "get_current_datetime", return_value=now.replace(tzinfo=None)):
        auth.add_auth(request)
    ours = sign("POST", URL, HEADERS, body, credentials=credentials, region="us-east-1", service="dynamodb", now=now)
    if ours["Authorization"] != request.headers["Authorization"]:
        raise SystemExit("core.wire.sigv4.sign and botocore disagree on the same request: no point in timing them")


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--n", type=int, default=20_000, help="signatures per round and signer (default 20000)")
    parser.add_argument("--rounds", type=int, default=5, help="alternating rounds; medians are reported (default 5)")
    args = parser.parse_args()
    bodies = put_item_bodies(args.n)
    credentials = Credentials(KEY, SECRET, TOKEN)
    auth = botocore.auth.SigV4Auth(botocore.credentials.Credentials(KEY, SECRET, TOKEN), "dynamodb", "us-east-1")
    check_equivalent(bodies[0], auth, credentials)
    requests = [botocore.awsrequest.AWSRequest("POST", URL, headers=dict(HEADERS), data=body) for body in bodies]

    def ours() -> None:
        for body in bodies:
            sign("POST", URL, HEADERS, body, credentials=credentials, region="us-east-1", service="dynamodb",
                 now=dt.datetime.now(dt.UTC))

    def botocores() -> None:
        for request in requests:  # add_auth replaces the date, token and signature of a previous round
            auth.add_auth(request)

    signer = Signer("POST", URL, HEADERS, region="us-east-1", service="dynamodb")
    now = time.time()
    if signer.sign(bodies[0], credentials=credentials, now=now) != sign(
            "POST", URL, HEADERS, bodies[0], credentials=credentials, region="us-east-1", service="dynamodb",
            now=dt.datetime.fromtimestamp(int(now), dt.UTC)):
        raise SystemExit("Signer and sign disagree on the same request: no point in timing them")

    def prepared() -> None:
        for body in bodies:
            signer.sign(body, credentials=credentials, now=time.time())

    signers: dict[str, Callable[[], None]] = {"core.wire.sigv4.sign": ours, "botocore SigV4Auth.add_auth": botocores,
                                              "core.wire.sigv4.Signer.sign": prepared}
    timings: dict[str, list[float]] = {name: [] for name in signers}
    for round_ in range(args.rounds):
        for name in sorted(signers, reverse=round_ % 2 == 1):
            started = time.perf_counter()
            signers[name]()
            timings[name].append((time.perf_counter() - started) / args.n * 1e6)
    medians = {name: statistics.median(values) for name, values in timings.items()}
    print(f"{args.n} PutItem signatures x {args.rounds} rounds; Python {platform.python_version()}, "
          f"botocore {botocore.__version__}")
    for name, value in medians.items():
        print(f"  {name:<28} {value:7.2f} us per signature (rounds: {', '.join(f'{v:.2f}' for v in timings[name])})")
    ratio = medians["core.wire.sigv4.sign"] / medians["botocore SigV4Auth.add_auth"]
    print(f"  ratio {ratio:.3f} (target <= {TARGET:.3f}): {'met' if ratio <= TARGET else 'NOT met'}")


if __name__ == "__main__":
    main()
