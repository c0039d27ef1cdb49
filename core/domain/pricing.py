"""What DynamoDB and S3 charge, as the lab's estimates use it (us-east-1, published prices; nothing is read live).

Pure constants and one function: ``import_cost_of`` prices an S3 import in the parts the importer makes.
"""

from __future__ import annotations

from core.domain.s3source import ImportCost, import_cost, objects_for, part_bytes_for

WRU_PRICE_USD = 0.625 / 1_000_000  # on-demand write request unit, us-east-1, since November 2024
RRU_PRICE_USD = 0.125 / 1_000_000  # on-demand read request unit, us-east-1, since November 2024
PRICE_NOTE = f"{WRU_PRICE_USD * 1e6:.3f} USD per million WRU, us-east-1, since Nov 2024"
# DynamoDB import from S3: billed per GB of *uncompressed* source data processed (us-east-1, the price published on
# aws.amazon.com/dynamodb/pricing since the feature launched in August 2022; not re-read live from this offline
# machine, 2026-11). S3 Standard in us-east-1: PUT 0.005 USD per 1,000 requests, GET 0.0004 per 1,000, storage
# 0.023 USD per GB-month (aws.amazon.com/s3/pricing).
# Provisioned capacity, us-east-1 (aws.amazon.com/dynamodb/pricing, provisioned; unchanged by the Nov 2024 on-demand
# cut; not re-read live from this offline machine, 2026-11): billed per WCU per hour, used or not.
WCU_HOUR_PRICE_USD = 0.00065
WCU_PRICE_NOTE = f"{WCU_HOUR_PRICE_USD:.5f} USD per WCU-hour, provisioned, us-east-1"
IMPORT_PRICE_USD_PER_GB = 0.15
S3_PUT_PRICE_USD = 0.005 / 1_000
S3_GET_PRICE_USD = 0.0004 / 1_000
S3_STORAGE_USD_PER_GB_MONTH = 0.023
IMPORT_PRICE_NOTE = (f"{IMPORT_PRICE_USD_PER_GB:.2f} USD per GB of uncompressed source, us-east-1, since Aug 2022; "
                     f"S3 PUT {S3_PUT_PRICE_USD * 1000:.3f} USD per 1,000")


def import_cost_of(source_bytes: int) -> ImportCost:
    """An import of ``source_bytes`` of uncompressed DynamoDB JSON at today's prices (for the planner too), in the
    parts the importer makes (``part_bytes_for``)."""
    objects = objects_for(source_bytes, part_bytes_for(source_bytes))
    return import_cost(source_bytes, objects, IMPORT_PRICE_USD_PER_GB, S3_PUT_PRICE_USD, S3_GET_PRICE_USD)
