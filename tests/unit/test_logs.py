"""Traces record AWS calls without object keys (ours end in file names)."""

from __future__ import annotations

import copy
import json
import pkgutil

from docintake.logs import redact_traced_parameters


def test_s3_object_keys_are_left_out_of_traced_aws_calls() -> None:
    data = pkgutil.get_data("aws_xray_sdk.ext", "resources/aws_para_whitelist.json")
    assert data is not None
    whitelist = json.loads(data)
    original = copy.deepcopy(whitelist)
    assert "Key" in original["services"]["s3"]["operations"]["GetObject"]["request_parameters"]
    redact_traced_parameters(whitelist)
    s3 = whitelist["services"]["s3"]["operations"]
    assert not any({"Key", "CopySource"} & set(op.get("request_parameters", [])) for op in s3.values())
    # What carries no name stays: versions, buckets, the other services.
    assert s3["GetObject"]["request_parameters"] == ["VersionId"]
    assert (
        s3["GetObject"]["request_descriptors"]
        == original["services"]["s3"]["operations"]["GetObject"]["request_descriptors"]
    )
    assert whitelist["services"]["sqs"] == original["services"]["sqs"]
