"""The hand-written signer against botocore's SigV4Auth, per DynamoDB PutItem-shaped request.

    python -m bench.bench_signer [--n 20000] [--rounds 7]

Alternating rounds in one process; prints the median microseconds per signature and the ratio. Target: ours
(``sign``) <= 1/3 of botocore's. Also ``Signer.sign``, what the async writers use: ``sign`` with its fixed parts
prepared once per second.
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import time
from collections.abc import Callable

import botocore.auth
import botocore.awsrequest
import botocore.credentials

from core.books import generate_books
from core.protocol import put_item_body
from core.sigv4 import Credentials, Signer, sign

URL = "https://dynamodb.us-east-1.amazonaws.com/"
HEADERS = [("Content-Type", "application/x-amz-json-1.0"), ("X-Amz-Target", "DynamoDB_20120810.PutItem"),
           ("Accept-Encoding", "identity")]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    bodies = [put_item_body("AsyncBooks", book) for book in generate_books(args.n, seed=1)]
    ours_creds = Credentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "session-token")
    auth = botocore.auth.SigV4Auth(botocore.credentials.Credentials(
        "AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "session-token"), "dynamodb", "us-east-1")

    def ours() -> None:
        for body in bodies:
            sign("POST", URL, HEADERS, body, credentials=ours_creds, region="us-east-1", service="dynamodb",
                 now=dt.datetime.now(dt.UTC))

    def botocores() -> None:
        for body in bodies:
            auth.add_auth(botocore.awsrequest.AWSRequest("POST", URL, headers=dict(HEADERS), data=body))

    signer = Signer("POST", URL, HEADERS, region="us-east-1", service="dynamodb")

    def prepared() -> None:
        for body in bodies:
            signer.sign(body, credentials=ours_creds, now=time.time())

    runs: dict[str, Callable[[], None]] = {"core.sigv4.sign": ours, "botocore SigV4Auth.add_auth": botocores,
                                           "core.sigv4.Signer.sign": prepared}
    timings: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(args.rounds):
        for name, fn in runs.items():
            started = time.perf_counter()
            fn()
            timings[name].append((time.perf_counter() - started) / args.n * 1e6)
    medians = {name: statistics.median(values) for name, values in timings.items()}
    for name, value in medians.items():
        print(f"{name:<28} {value:7.2f} us per signature")
    ratio = medians["core.sigv4.sign"] / medians["botocore SigV4Auth.add_auth"]
    print(f"ratio {ratio:.2f} (target <= 0.33): {'met' if ratio <= 1 / 3 else 'NOT met'}")


if __name__ == "__main__":
    main()
