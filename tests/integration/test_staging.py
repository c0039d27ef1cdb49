"""The S3 stage that s3-import and bulk-put share, against moto's S3: the bucket made in the run's region, the parts
uploaded and counted, a cancel between parts, what the run put there removed, and S3's refusals as one line."""

from __future__ import annotations

import uuid

import pytest

from core.domain.books import generate_books
from core.domain.errors import TargetError
from core.domain.s3source import S3Location, parts
from core.run.staging import S3Stage
from core.targets.target import LOCAL_CREDENTIALS, make_target


class Cancelled(Exception):
    pass


def stage(moto_url: str, region: str = "us-east-1", local: bool = True, bucket: str | None = None) -> S3Stage:
    target = make_target("custom", endpoint_url=moto_url, region=region, credentials=LOCAL_CREDENTIALS)
    return S3Stage(target.s3_client(), S3Location(bucket or f"lab-{uuid.uuid4().hex[:8]}"), "run-1", region,
                   moto_url, local, "the operation needs S3 it can read")


def listed(stage: S3Stage) -> list[str]:
    answer = stage.s3.list_objects_v2(Bucket=stage.location.bucket)
    return sorted(entry["Key"] for entry in answer.get("Contents", []))


@pytest.mark.parametrize("region", ["us-east-1", "eu-west-1"])
def test_a_local_run_makes_its_bucket_in_its_region_uploads_and_removes_its_parts(moto_url: str,
                                                                                  region: str) -> None:
    here = stage(moto_url, region)
    here.bucket()
    location = here.s3.get_bucket_location(Bucket=here.location.bucket)["LocationConstraint"]
    assert (location or "us-east-1") == region
    seen: list[int] = []
    here.upload(parts(generate_books(600, seed=2), part_bytes=20_000), lambda _: None,
                lambda part: seen.append(part.index))
    assert here.items == 600 and len(here.keys) == len(seen) > 1 and len(here.latencies) == len(seen)
    assert listed(here) == sorted(here.keys) and all(key.startswith(here.location.folder("run-1"))
                                                     for key in here.keys)
    here.s3.put_object(Bucket=here.location.bucket, Key="report/a.json", Body=b"{}")
    here.remove()
    assert listed(here) == ["report/a.json"]
    here.remove("report/")
    assert listed(here) == []


def test_a_cancel_between_parts_stops_the_upload_and_says_what_is_left(moto_url: str) -> None:
    here = stage(moto_url, local=False)
    here.s3.create_bucket(Bucket=here.location.bucket)
    calls: list[str] = []

    def check(when: str) -> None:
        calls.append(when)
        if len(calls) == 3:
            raise Cancelled(here.cancelled("s3-import", f"{when} the upload"))

    with pytest.raises(Cancelled) as stopped:
        here.upload(parts(generate_books(600, seed=2), part_bytes=20_000), check)
    assert calls == ["during"] * 3 and len(here.keys) == 2 and len(listed(here)) == 2
    assert str(stopped.value) == (f"s3-import was cancelled during the upload; {here.items:,} items uploaded in 2 "
                                  f"part(s); the parts are left at {here.location.url('run-1')}")
    assert stage(moto_url, local=False).cancelled("bulk-put", "before the upload").endswith("nothing was uploaded")


def test_a_missing_bucket_is_one_line_naming_it_and_the_fix(moto_url: str) -> None:
    here = stage(moto_url, local=False, bucket="lab-nobody-made-this")
    with pytest.raises(TargetError) as refused:
        here.bucket()
    assert str(refused.value) == (f"S3 bucket lab-nobody-made-this does not exist at {moto_url} (NoSuchBucket): "
                                  "create it in us-east-1 or name another with --s3-bucket")
