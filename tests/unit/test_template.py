"""template.yaml keeps the stage contract: a DLQ per queue, visibility ≥ 6 × timeout, partial batch
failures, and no function environment variable that the settings do not know."""

from __future__ import annotations

from pathlib import Path

import pytest

from docintake.config import Settings
from docintake_local.template import Resolver, function_properties, load_template, resources_of_type

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = load_template(ROOT / "template.yaml")
FUNCTIONS = resources_of_type(TEMPLATE, "AWS::Serverless::Function")
QUEUES = resources_of_type(TEMPLATE, "AWS::SQS::Queue")


def _sqs_events() -> list[tuple[str, dict[str, object]]]:
    return [
        (name, event["Properties"])
        for name in FUNCTIONS
        for event in function_properties(TEMPLATE, name).get("Events", {}).values()
        if event["Type"] == "SQS"
    ]


def test_every_stage_function_exists_with_a_handler_module() -> None:
    assert {"UploadFunction", "ValidateFunction", "ParseFunction", "ChunkFunction", "EmbedFunction"} <= set(FUNCTIONS)
    for name in FUNCTIONS:
        props = function_properties(TEMPLATE, name)
        module = props["Handler"].rsplit(".", 1)[0]
        assert (ROOT / props["CodeUri"] / f"{module}.py").exists(), name
        assert props["Runtime"] == "python3.11"


@pytest.mark.parametrize(("function", "event"), _sqs_events())
def test_queues_outlive_their_consumers_and_report_partial_failures(function: str, event: dict) -> None:
    queue = QUEUES[event["Queue"]["Fn::GetAtt"][0]]["Properties"]
    timeout = int(function_properties(TEMPLATE, function)["Timeout"])
    assert int(queue["VisibilityTimeout"]) >= 6 * timeout
    assert event["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    dlq = queue["RedrivePolicy"]["deadLetterTargetArn"]["Fn::GetAtt"][0]
    assert int(QUEUES[dlq]["Properties"]["MessageRetentionPeriod"]) > int(queue["MessageRetentionPeriod"])


def test_validate_failures_have_a_dead_letter_destination() -> None:
    props = function_properties(TEMPLATE, "ValidateFunction")
    destination = props["EventInvokeConfig"]["DestinationConfig"]["OnFailure"]["Destination"]
    assert destination == {"Fn::GetAtt": ["ValidateDLQ", "Arn"]}
    s3_events = [e for e in props["Events"].values() if e["Type"] == "S3"]
    assert s3_events[0]["Properties"]["Filter"]["S3Key"]["Rules"] == [{"Name": "prefix", "Value": "uploads/"}]


def test_function_environment_names_are_settings() -> None:
    powertools = {"POWERTOOLS_SERVICE_NAME", "POWERTOOLS_TRACER_CAPTURE_RESPONSE", "POWERTOOLS_TRACER_CAPTURE_ERROR"}
    known = {name.upper() for name in Settings.model_fields} | powertools
    for name in FUNCTIONS:
        variables = function_properties(TEMPLATE, name).get("Environment", {}).get("Variables", {})
        assert set(variables) <= known, name


def test_the_resolver_handles_the_templates_intrinsics() -> None:
    resolver = Resolver(TEMPLATE, stack_name="demo")
    bucket = resolver.resolve(
        resources_of_type(TEMPLATE, "AWS::S3::Bucket")["DocumentsBucket"]["Properties"]["BucketName"]
    )
    assert bucket == "demo-documents-123456789012-us-east-1"
    assert resolver.condition("HasVpc") is False


def test_the_sweeper_is_scheduled_and_waits_longer_than_every_redelivery() -> None:
    props = function_properties(TEMPLATE, "SweeperFunction")
    assert [e["Properties"]["Schedule"] for e in props["Events"].values() if e["Type"] == "Schedule"] == [
        "rate(5 minutes)"
    ]
    parameters = TEMPLATE["Parameters"]
    stale = int(parameters["SweepStaleSeconds"]["Default"])
    receives = int(parameters["MaxReceiveCount"]["Default"])
    longest = max(int(function_properties(TEMPLATE, name)["Timeout"]) for name in FUNCTIONS)
    assert stale > longest * receives
    assert props["Environment"]["Variables"]["SWEEP_STALE_SECONDS"] == {"Ref": "SweepStaleSeconds"}
    # It runs as the sweeper role and may only enqueue the three stage queues, check uploads, re-invoke validate.
    assert props["Environment"]["Variables"]["DATABASE_SECRET_ARN"] == {"Ref": "SweeperDatabaseSecretArn"}
    role = TEMPLATE["Resources"]["SweeperFunctionRole"]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]
    actions = {s["Sid"]: (s["Action"], s["Resource"]) for s in role if isinstance(s, dict) and "Sid" in s}
    assert actions["EnqueueStages"] == (
        "sqs:SendMessage",
        [{"Fn::GetAtt": [q, "Arn"]} for q in ("ParseQueue", "ChunkQueue", "EmbedQueue")],
    )
    assert actions["RevalidateUploads"] == ("lambda:InvokeFunction", {"Fn::GetAtt": ["ValidateFunction", "Arn"]})


RESOURCES = TEMPLATE["Resources"]


def _of_type(kind: str) -> dict[str, dict]:
    return {name: spec for name, spec in RESOURCES.items() if spec["Type"] == kind}


def test_buckets_block_public_access_deny_plain_http_and_encrypt() -> None:
    documents = RESOURCES["DocumentsBucket"]["Properties"]
    default = documents["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]
    assert default["ServerSideEncryptionByDefault"] == {
        "SSEAlgorithm": "aws:kms",
        "KMSMasterKeyID": {"Fn::GetAtt": ["DataKey", "Arn"]},
    }
    assert RESOURCES["DataKey"]["Properties"]["EnableKeyRotation"] is True
    assert documents["LoggingConfiguration"]["DestinationBucketName"] == {"Ref": "AccessLogsBucket"}
    for bucket, policy in (
        ("DocumentsBucket", "DocumentsBucketPolicy"),
        ("AccessLogsBucket", "AccessLogsBucketPolicy"),
    ):
        block = RESOURCES[bucket]["Properties"]["PublicAccessBlockConfiguration"]
        assert block == dict.fromkeys(
            ("BlockPublicAcls", "BlockPublicPolicy", "IgnorePublicAcls", "RestrictPublicBuckets"), True
        )
        statements = RESOURCES[policy]["Properties"]["PolicyDocument"]["Statement"]
        assert any(
            s["Effect"] == "Deny" and s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}} for s in statements
        )


def test_cors_allows_only_the_configured_origin_and_the_signed_headers() -> None:
    rule = RESOURCES["DocumentsBucket"]["Properties"]["CorsConfiguration"]["CorsRules"][0]
    assert rule["AllowedOrigins"] == [{"Ref": "AllowedOrigin"}]
    assert rule["AllowedMethods"] == ["PUT"]
    assert rule["AllowedHeaders"] == ["content-type", "x-amz-checksum-sha256"]
    api = RESOURCES["HttpApi"]["Properties"]
    assert api["CorsConfiguration"]["AllowOrigins"] == [{"Ref": "AllowedOrigin"}]
    assert api["CorsConfiguration"]["AllowHeaders"] == ["authorization", "content-type"]


def test_every_queue_and_log_group_is_encrypted_with_the_stack_key() -> None:
    key = {"Fn::GetAtt": ["DataKey", "Arn"]}
    assert {name: spec["Properties"].get("KmsMasterKeyId") for name, spec in QUEUES.items()} == dict.fromkeys(
        QUEUES, key
    )
    groups = _of_type("AWS::Logs::LogGroup")
    assert len(groups) == len(FUNCTIONS) + 1  # one per function and the API's access log
    assert all(spec["Properties"]["KmsKeyId"] == key for spec in groups.values())
    assert TEMPLATE["Globals"]["Function"]["KmsKeyArn"] == key


def test_every_route_is_behind_the_jwt_authorizer() -> None:
    auth = RESOURCES["HttpApi"]["Properties"]["Auth"]
    assert auth["DefaultAuthorizer"] == "JwtAuthorizer"
    routes = [
        (name, event["Properties"])
        for name in FUNCTIONS
        for event in function_properties(TEMPLATE, name).get("Events", {}).values()
        if event["Type"] == "HttpApi"
    ]
    assert routes
    for name, route in routes:
        assert route["ApiId"] == {"Ref": "HttpApi"}, name
        assert route.get("Auth", {}).get("Authorizer", "JwtAuthorizer") == "JwtAuthorizer", name


def test_iam_uses_star_only_where_aws_allows_no_scoping() -> None:
    allowed_star = {
        "xray:PutTraceSegments",
        "xray:PutTelemetryRecords",
        "ec2:DescribeNetworkInterfaces",
        "ec2:DescribeSubnets",
        # Textract (OCR of scanned pages in ParseFunction) has no resource-level permissions.
        "textract:AnalyzeDocument",
    }
    for name, role in _of_type("AWS::IAM::Role").items():
        for policy in role["Properties"]["Policies"]:
            document = policy.get("PolicyDocument") or policy["Fn::If"][1]["PolicyDocument"]
            for entry in document["Statement"]:
                # A statement granted only under a condition (a secret, Bedrock, Textract) is checked too.
                statement = entry["Fn::If"][1] if "Fn::If" in entry else entry
                if statement["Resource"] == "*":
                    actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
                    assert set(actions) <= allowed_star, (name, statement["Sid"])


def test_every_checkov_skip_carries_its_reason() -> None:
    skips = [
        (name, skip)
        for name, spec in RESOURCES.items()
        for skip in spec.get("Metadata", {}).get("checkov", {}).get("skip", [])
    ]
    assert skips
    assert all(skip["id"].startswith("CKV_") and len(skip["comment"]) > 40 for _, skip in skips)


def test_alarms_cover_every_dlq_queue_age_and_function_and_the_dashboard_reads_the_stage_metrics() -> None:
    import json

    alarms = _of_type("AWS::CloudWatch::Alarm").values()
    watched = {(a["Properties"]["MetricName"], json.dumps(a["Properties"]["Dimensions"][0]["Value"])) for a in alarms}
    for name in QUEUES:
        if name.endswith("DLQ"):
            assert ("ApproximateNumberOfMessagesVisible", json.dumps({"Fn::GetAtt": [name, "QueueName"]})) in watched
        else:
            assert ("ApproximateAgeOfOldestMessage", json.dumps({"Fn::GetAtt": [name, "QueueName"]})) in watched
    for name in FUNCTIONS:
        for metric in ("Errors", "Throttles"):
            assert (metric, json.dumps({"Ref": name})) in watched, (name, metric)
    assert all(a["Properties"]["AlarmActions"]["Fn::If"][0] == "HasAlarmTopic" for a in alarms)
    body = Resolver(TEMPLATE, stack_name="demo").resolve(RESOURCES["Dashboard"]["Properties"]["DashboardBody"])
    metrics = {m[1] for w in json.loads(body)["widgets"] for m in w["properties"].get("metrics", [])}
    assert {"StageCompleted", "StageDuration", "DocumentsReady", "Retries", "DLQSends"} <= metrics


def test_parse_function_gets_its_ocr_engine_from_a_parameter_and_may_call_textract() -> None:
    parameter = TEMPLATE["Parameters"]["OcrEngine"]
    assert parameter["Default"] == "textract"
    # The local engine (RapidOCR + onnxruntime + OpenCV, ~390 MB) cannot be deployed in a zip function.
    assert set(parameter["AllowedValues"]) == {"textract", "none"}
    environment = RESOURCES["ParseFunction"]["Properties"]["Environment"]["Variables"]
    assert environment["OCR_ENGINE"] == {"Ref": "OcrEngine"}
    statements = RESOURCES["ParseFunctionRole"]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]
    # Granted only when the local parser OCRs with Textract: with none, or with LlamaParse (which does its own
    # OCR), the role may not call Textract (every combination: test_template_parameters.py).
    ocr = [s["Fn::If"] for s in statements if "Fn::If" in s and s["Fn::If"][1].get("Sid") == "OcrPages"]
    assert len(ocr) == 1
    condition, statement, otherwise = ocr[0]
    assert TEMPLATE["Conditions"][condition] == {
        "Fn::And": [{"Fn::Equals": [{"Ref": "Parser"}, "local"]}, {"Fn::Equals": [{"Ref": "OcrEngine"}, "textract"]}]
    }
    assert statement["Action"] == "textract:AnalyzeDocument"
    assert otherwise == {"Ref": "AWS::NoValue"}
    for name, role in _of_type("AWS::IAM::Role").items():
        if name != "ParseFunctionRole":
            assert "textract" not in str(role), name


def test_chunk_function_gets_the_fields_model_from_parameters_and_alone_may_use_it() -> None:
    # The rules alone by default: no model, no key, no Bedrock.
    provider = TEMPLATE["Parameters"]["FieldsLlmProvider"]
    assert (provider["Default"], set(provider["AllowedValues"])) == ("none", {"none", "openai", "bedrock"})
    assert TEMPLATE["Parameters"]["FieldsLlmModel"]["Default"] == ""
    # Extraction runs in the chunk stage, after chunking: ChunkFunction reads the choice.
    environment = RESOURCES["ChunkFunction"]["Properties"]["Environment"]["Variables"]
    assert environment["FIELDS_LLM_PROVIDER"] == {"Ref": "FieldsLlmProvider"}
    assert environment["FIELDS_LLM_MODEL"] == {"Ref": "FieldsLlmModel"}
    # Its role reads the key and invokes the model each under its own condition, and nothing otherwise.
    statements = RESOURCES["ChunkFunctionRole"]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]
    conditional = {s["Fn::If"][1]["Sid"]: s["Fn::If"] for s in statements if "Fn::If" in s}
    key_condition, key_statement, no_key = conditional["ReadFieldsLlmKey"]
    model_condition, model_statement, no_model = conditional["InvokeFieldsModel"]
    assert no_key == no_model == {"Ref": "AWS::NoValue"}
    assert TEMPLATE["Conditions"][model_condition] == {"Fn::Equals": [{"Ref": "FieldsLlmProvider"}, "bedrock"]}
    assert {"Fn::Equals": [{"Ref": "FieldsLlmProvider"}, "openai"]} in TEMPLATE["Conditions"][key_condition]["Fn::And"]
    assert (key_statement["Action"], key_statement["Resource"]) == (
        "secretsmanager:GetSecretValue",
        {"Ref": "EmbeddingApiKeySecretArn"},
    )
    assert model_statement["Action"] == "bedrock:InvokeModel"
    assert model_statement["Resource"] == {
        "Fn::Sub": "arn:${AWS::Partition}:bedrock:${AWS::Region}::foundation-model/${FieldsLlmModel}"
    }
    # No other role names the fields model.
    for name, role in _of_type("AWS::IAM::Role").items():
        if name != "ChunkFunctionRole":
            assert "FieldsLlm" not in str(role), name
