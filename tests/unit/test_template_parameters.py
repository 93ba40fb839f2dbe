"""template.yaml's deployment parameters: each setting a deployment chooses (parser, OCR engine, embedding
provider, their secrets) is a parameter wired into the functions that read it, and each choice grants exactly
the IAM it needs, to exactly the functions that use it. The template's Conditions are resolved for each
combination that matters and every role's grants are compared, whole, with the expected set."""

from __future__ import annotations

import re
from itertools import product
from pathlib import Path
from typing import Any, get_args

import pytest

from docintake.config import Settings
from docintake_local.template import Resolver, function_properties, load_template, resources_of_type

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = load_template(ROOT / "template.yaml")
PARAMETERS = TEMPLATE["Parameters"]
ROLES = resources_of_type(TEMPLATE, "AWS::IAM::Role")
FUNCTIONS = resources_of_type(TEMPLATE, "AWS::Serverless::Function")

STACK = "docintake"
BUCKET = f"arn:aws:s3:::{STACK}-documents-123456789012-us-east-1"
API_SECRET = "arn:aws:secretsmanager:us-east-1:123456789012:secret:docintake/api-AbCdEf"
WORKER_SECRET = "arn:aws:secretsmanager:us-east-1:123456789012:secret:docintake/worker-AbCdEf"
SWEEPER_SECRET = "arn:aws:secretsmanager:us-east-1:123456789012:secret:docintake/sweeper-AbCdEf"
LLAMAPARSE_SECRET = "arn:aws:secretsmanager:us-east-1:123456789012:secret:docintake/llamaparse-AbCdEf"
OPENAI_SECRET = "arn:aws:secretsmanager:us-east-1:123456789012:secret:docintake/openai-AbCdEf"
TITAN = "amazon.titan-embed-text-v2:0"
TITAN_ARN = f"arn:aws:bedrock:us-east-1::foundation-model/{TITAN}"
HAIKU = "anthropic.claude-3-haiku-20240307-v1:0"
HAIKU_ARN = f"arn:aws:bedrock:us-east-1::foundation-model/{HAIKU}"

Grant = tuple[str, str, str]  # (Sid, action, resource)


class _Attributes(dict[tuple[str, str], str]):
    """Every Fn::GetAtt as a readable placeholder, so a grant names the resource it is on."""

    def __missing__(self, key: tuple[str, str]) -> str:
        return f"{key[0]}.{key[1]}"


def _resolver(**parameters: Any) -> Resolver:
    unknown = set(parameters) - set(PARAMETERS)
    assert not unknown, unknown
    refs = {name: f"{name}.Ref" for name in TEMPLATE["Resources"]}
    return Resolver(TEMPLATE, stack_name=STACK, parameters=dict(parameters), refs=refs, attrs=_Attributes())


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def grants(**parameters: Any) -> dict[str, set[Grant]]:
    """Every role's (Sid, action, resource) under these parameter values, conditions resolved."""
    resolver = _resolver(**parameters)
    result: dict[str, set[Grant]] = {}
    for name, role in ROLES.items():
        found: set[Grant] = set()
        for policy in resolver.resolve(role["Properties"]["Policies"]):
            for statement in policy["PolicyDocument"]["Statement"]:
                assert statement["Effect"] == "Allow", (name, statement["Sid"])
                found |= {
                    (statement["Sid"], action, resource)
                    for action in _as_list(statement["Action"])
                    for resource in _as_list(statement["Resource"])
                }
        result[name] = found
    return result


def _statement(sid: str, actions: list[str], resources: list[str]) -> set[Grant]:
    return {(sid, action, resource) for action in actions for resource in resources}


def _common(function: str) -> set[Grant]:
    """What every function's role holds: its own log group, X-Ray (no resource-level permissions), the key."""
    return (
        _statement("WriteOwnLogs", ["logs:CreateLogStream", "logs:PutLogEvents"], [f"{function}LogGroup.Arn"])
        | _statement("WriteTraces", ["xray:PutTraceSegments", "xray:PutTelemetryRecords"], ["*"])
        | _statement("UseDataKey", ["kms:Decrypt", "kms:GenerateDataKey"], ["DataKey.Arn"])
    )


def _consumer(queue: str, dlq: str) -> set[Grant]:
    consume = ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes", "sqs:ChangeMessageVisibility"]
    return _statement("ConsumeOwnQueue", consume, [f"{queue}.Arn"]) | _statement(
        "DeadLetterInvalidMessages", ["sqs:SendMessage"], [f"{dlq}.Arn"]
    )


STAGE_QUEUES = ["ParseQueue.Arn", "ChunkQueue.Arn", "EmbedQueue.Arn"]
EMBEDDING_ROLES = ("EmbedFunctionRole", "SearchFunctionRole")

# What each role holds whatever is chosen (Parser=local, OcrEngine=none, EmbeddingProvider=minilm, no secret,
# no VPC): the grants every choice below adds to.
BASELINE: dict[str, set[Grant]] = {
    "UploadFunctionRole": _common("UploadFunction")
    | _statement("SignUploadPut", ["s3:PutObject"], [f"{BUCKET}/uploads/*"]),
    "DocumentsFunctionRole": _common("DocumentsFunction")
    | _statement("ResumeStages", ["sqs:SendMessage"], STAGE_QUEUES)
    | _statement("ListDocumentObjectVersions", ["s3:ListBucketVersions"], [BUCKET])
    | _statement(
        "DeleteDocumentObjects",
        ["s3:DeleteObject", "s3:DeleteObjectVersion"],
        [f"{BUCKET}/uploads/*", f"{BUCKET}/derived/*", f"{BUCKET}/quarantine/uploads/*"],
    ),
    "SearchFunctionRole": _common("SearchFunction"),
    "ValidateFunctionRole": _common("ValidateFunction")
    | _statement("ReadUploads", ["s3:GetObject", "s3:GetObjectVersion"], [f"{BUCKET}/uploads/*"])
    | _statement("ListUploads", ["s3:ListBucket"], [BUCKET])
    | _statement(
        "RejectOverwritesAndMismatches", ["s3:DeleteObject", "s3:DeleteObjectVersion"], [f"{BUCKET}/uploads/*"]
    )
    | _statement("Quarantine", ["s3:PutObject", "s3:PutObjectTagging"], [f"{BUCKET}/quarantine/uploads/*"])
    | _statement("EnqueueParse", ["sqs:SendMessage"], ["ParseQueue.Arn"])
    | _statement("SendFailedInvocationsToDLQ", ["sqs:SendMessage"], ["ValidateDLQ.Arn"]),
    "ParseFunctionRole": _common("ParseFunction")
    | _statement("ReadUploads", ["s3:GetObject", "s3:GetObjectVersion"], [f"{BUCKET}/uploads/*"])
    | _statement("ReadWriteDerived", ["s3:GetObject", "s3:PutObject"], [f"{BUCKET}/derived/*"])
    | _consumer("ParseQueue", "ParseDLQ")
    | _statement("EnqueueChunk", ["sqs:SendMessage"], ["ChunkQueue.Arn"]),
    "ChunkFunctionRole": _common("ChunkFunction")
    | _statement("ReadDerived", ["s3:GetObject"], [f"{BUCKET}/derived/*"])
    | _consumer("ChunkQueue", "ChunkDLQ")
    | _statement("EnqueueEmbed", ["sqs:SendMessage"], ["EmbedQueue.Arn"]),
    "EmbedFunctionRole": _common("EmbedFunction") | _consumer("EmbedQueue", "EmbedDLQ"),
    "SweeperFunctionRole": _common("SweeperFunction")
    | _statement("EnqueueStages", ["sqs:SendMessage"], STAGE_QUEUES)
    | _statement("CheckUploads", ["s3:ListBucket"], [BUCKET])
    | _statement("RevalidateUploads", ["lambda:InvokeFunction"], ["ValidateFunction.Arn"]),
}
NOTHING_CHOSEN: dict[str, Any] = {"Parser": "local", "OcrEngine": "none", "EmbeddingProvider": "minilm"}

TEXTRACT = {"ParseFunctionRole": _statement("OcrPages", ["textract:AnalyzeDocument"], ["*"])}
LLAMAPARSE_KEY = {
    "ParseFunctionRole": _statement("ReadParserKey", ["secretsmanager:GetSecretValue"], [LLAMAPARSE_SECRET])
}
OPENAI_KEY = {
    role: _statement("ReadEmbeddingKey", ["secretsmanager:GetSecretValue"], [OPENAI_SECRET]) for role in EMBEDDING_ROLES
}


FIELDS_LLM_KEY = {
    "ChunkFunctionRole": _statement("ReadFieldsLlmKey", ["secretsmanager:GetSecretValue"], [OPENAI_SECRET])
}
FIELDS_LLM_BEDROCK = {"ChunkFunctionRole": _statement("InvokeFieldsModel", ["bedrock:InvokeModel"], [HAIKU_ARN])}


def _bedrock(sid: str, arn: str) -> dict[str, set[Grant]]:
    return {role: _statement(sid, ["bedrock:InvokeModel"], [arn]) for role in EMBEDDING_ROLES}


def _merge(*extras: dict[str, set[Grant]]) -> dict[str, set[Grant]]:
    merged: dict[str, set[Grant]] = {}
    for extra in extras:
        for role, added in extra.items():
            merged[role] = merged.get(role, set()) | added
    return merged


# (parameter values, what they add to BASELINE, role by role). A secret or provider named but not in use
# (a LlamaParse key with the local parser, an OpenAI key with Bedrock) adds nothing.
CASES: dict[str, tuple[dict[str, Any], dict[str, set[Grant]]]] = {
    "nothing chosen": (NOTHING_CHOSEN, {}),
    "the defaults: local parser, Textract OCR, MiniLM": ({}, TEXTRACT),
    "llamaparse with its key: no Textract even with OcrEngine=textract": (
        {"Parser": "llamaparse", "OcrEngine": "textract", "LlamaParseApiKeySecretArn": LLAMAPARSE_SECRET},
        LLAMAPARSE_KEY,
    ),
    "a LlamaParse key left set with the local parser is not readable": (
        {**NOTHING_CHOSEN, "LlamaParseApiKeySecretArn": LLAMAPARSE_SECRET},
        {},
    ),
    "openai with its key": (
        {
            **NOTHING_CHOSEN,
            "EmbeddingProvider": "openai",
            "EmbeddingModel": "text-embedding-3-small",
            "EmbeddingApiKeySecretArn": OPENAI_SECRET,
        },
        OPENAI_KEY,
    ),
    "an OpenAI key left set with an offline provider is not readable": (
        {
            **NOTHING_CHOSEN,
            "EmbeddingProvider": "wordllama",
            "EmbeddingModel": "wordllama-l2-supercat-256",
            "EmbeddingApiKeySecretArn": OPENAI_SECRET,
        },
        {},
    ),
    "bedrock: InvokeModel on the chosen model only, no key": (
        {
            **NOTHING_CHOSEN,
            "EmbeddingProvider": "bedrock",
            "EmbeddingModel": TITAN,
            "EmbeddingDimensions": 1024,
            "EmbeddingApiKeySecretArn": OPENAI_SECRET,
        },
        _bedrock("InvokeEmbeddingModel", TITAN_ARN),
    ),
    "re-embedding from Bedrock to OpenAI: the old model and the new key": (
        {
            **NOTHING_CHOSEN,
            "EmbeddingProvider": "openai",
            "EmbeddingModel": "text-embedding-3-small",
            "EmbeddingApiKeySecretArn": OPENAI_SECRET,
            "PreviousEmbeddingProvider": "bedrock",
            "PreviousEmbeddingModel": TITAN,
        },
        _merge(OPENAI_KEY, _bedrock("InvokePreviousEmbeddingModel", TITAN_ARN)),
    ),
    "re-embedding from OpenAI to Bedrock: the new model and the old key": (
        {
            **NOTHING_CHOSEN,
            "EmbeddingProvider": "bedrock",
            "EmbeddingModel": "amazon.titan-embed-text-v2:0",
            "EmbeddingApiKeySecretArn": OPENAI_SECRET,
            "PreviousEmbeddingProvider": "openai",
            "PreviousEmbeddingModel": "text-embedding-3-small",
        },
        _merge(OPENAI_KEY, _bedrock("InvokeEmbeddingModel", TITAN_ARN)),
    ),
    "re-embedding from MiniLM to WordLlama: nothing": (
        {
            **NOTHING_CHOSEN,
            "EmbeddingProvider": "wordllama",
            "EmbeddingModel": "wordllama-l2-supercat-256",
            "PreviousEmbeddingProvider": "minilm",
            "PreviousEmbeddingModel": "all-MiniLM-L6-v2",
        },
        {},
    ),
    "fields by an OpenAI-compatible model: ChunkFunction alone reads the key": (
        {
            **NOTHING_CHOSEN,
            "FieldsLlmProvider": "openai",
            "FieldsLlmModel": "gpt-4o-mini",
            "EmbeddingApiKeySecretArn": OPENAI_SECRET,
        },
        FIELDS_LLM_KEY,
    ),
    "fields by Bedrock: ChunkFunction may invoke that one model, and reads no key": (
        {
            **NOTHING_CHOSEN,
            "FieldsLlmProvider": "bedrock",
            "FieldsLlmModel": HAIKU,
            "EmbeddingApiKeySecretArn": OPENAI_SECRET,
        },
        FIELDS_LLM_BEDROCK,
    ),
    "Bedrock for embedding and for fields: each function its own model": (
        {
            **NOTHING_CHOSEN,
            "EmbeddingProvider": "bedrock",
            "EmbeddingModel": TITAN,
            "EmbeddingDimensions": 1024,
            "FieldsLlmProvider": "bedrock",
            "FieldsLlmModel": HAIKU,
        },
        _merge(_bedrock("InvokeEmbeddingModel", TITAN_ARN), FIELDS_LLM_BEDROCK),
    ),
    "OpenAI for embedding and for fields: the one key to the three functions": (
        {
            **NOTHING_CHOSEN,
            "EmbeddingProvider": "openai",
            "EmbeddingModel": "text-embedding-3-small",
            "EmbeddingApiKeySecretArn": OPENAI_SECRET,
            "FieldsLlmProvider": "openai",
            "FieldsLlmModel": "gpt-4o-mini",
        },
        _merge(OPENAI_KEY, FIELDS_LLM_KEY),
    ),
    "a fields model left named with the rules alone grants nothing": (
        {**NOTHING_CHOSEN, "FieldsLlmModel": HAIKU, "EmbeddingApiKeySecretArn": OPENAI_SECRET},
        {},
    ),
    "database secrets: each role reads its own": (
        {
            **NOTHING_CHOSEN,
            "ApiDatabaseSecretArn": API_SECRET,
            "WorkerDatabaseSecretArn": WORKER_SECRET,
            "SweeperDatabaseSecretArn": SWEEPER_SECRET,
        },
        {
            **{
                role: _statement("ReadDatabaseSecret", ["secretsmanager:GetSecretValue"], [API_SECRET])
                for role in ("UploadFunctionRole", "DocumentsFunctionRole", "SearchFunctionRole")
            },
            **{
                role: _statement("ReadDatabaseSecret", ["secretsmanager:GetSecretValue"], [WORKER_SECRET])
                for role in ("ValidateFunctionRole", "ParseFunctionRole", "ChunkFunctionRole", "EmbedFunctionRole")
            },
            "SweeperFunctionRole": _statement(
                "ReadDatabaseSecret", ["secretsmanager:GetSecretValue"], [SWEEPER_SECRET]
            ),
        },
    ),
    "a VPC: each role manages its network interfaces": (
        {**NOTHING_CHOSEN, "VpcSubnetIds": "subnet-1,subnet-2", "VpcSecurityGroupIds": "sg-1"},
        {
            role: _statement(
                "DescribeNetworkInterfaces", ["ec2:DescribeNetworkInterfaces", "ec2:DescribeSubnets"], ["*"]
            )
            | _statement(
                "CreateNetworkInterfaces",
                ["ec2:CreateNetworkInterface"],
                [
                    f"arn:aws:ec2:us-east-1:123456789012:{kind}/*"
                    for kind in ("network-interface", "subnet", "security-group")
                ],
            )
            | _statement(
                "ManageNetworkInterfaces",
                ["ec2:DeleteNetworkInterface", "ec2:AssignPrivateIpAddresses", "ec2:UnassignPrivateIpAddresses"],
                ["arn:aws:ec2:us-east-1:123456789012:network-interface/*"],
            )
            for role in ROLES
        },
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_each_choice_grants_exactly_what_it_needs_to_exactly_the_functions_that_use_it(case: str) -> None:
    parameters, extras = CASES[case]
    assert set(BASELINE) == set(ROLES)
    expected = {role: BASELINE[role] | extras.get(role, set()) for role in ROLES}
    actual = grants(**parameters)
    for role in ROLES:
        assert actual[role] == expected[role], (role, actual[role] ^ expected[role])


FOUNDATION_MODEL = "arn:aws:bedrock:us-east-1::foundation-model/"


def _granted(found: dict[str, set[Grant]], service: str) -> set[tuple[str, str]]:
    return {
        (role, resource) for role, held in found.items() for _, action, resource in held if action.startswith(service)
    }


def test_no_combination_grants_a_secret_textract_or_bedrock_it_was_not_asked_for() -> None:
    # Every combination of the choices, each with every secret named: only the choices in use may read one.
    secrets = {
        "ApiDatabaseSecretArn": API_SECRET,
        "WorkerDatabaseSecretArn": WORKER_SECRET,
        "SweeperDatabaseSecretArn": SWEEPER_SECRET,
        "LlamaParseApiKeySecretArn": LLAMAPARSE_SECRET,
        "EmbeddingApiKeySecretArn": OPENAI_SECRET,
    }
    combinations = list(
        product(
            PARAMETERS["Parser"]["AllowedValues"],
            PARAMETERS["OcrEngine"]["AllowedValues"],
            PARAMETERS["EmbeddingProvider"]["AllowedValues"],
            PARAMETERS["PreviousEmbeddingProvider"]["AllowedValues"],
            PARAMETERS["FieldsLlmProvider"]["AllowedValues"],
        )
    )
    assert len(combinations) == 2 * 2 * 5 * 6 * 3
    for parser, ocr, provider, previous, fields in combinations:
        chosen = {
            "Parser": parser,
            "OcrEngine": ocr,
            "EmbeddingProvider": provider,
            "EmbeddingModel": "model-a",
            "PreviousEmbeddingProvider": previous,
            "PreviousEmbeddingModel": "model-b" if previous else "",
            "FieldsLlmProvider": fields,
            "FieldsLlmModel": "model-c",
            **secrets,
        }
        found = grants(**chosen)
        readable = {secret for _, secret in _granted(found, "secretsmanager:")}
        wanted = {API_SECRET, WORKER_SECRET, SWEEPER_SECRET}
        wanted |= {LLAMAPARSE_SECRET} if parser == "llamaparse" else set()
        wanted |= {OPENAI_SECRET} if "openai" in (provider, previous, fields) else set()
        assert readable == wanted, chosen
        key_readers = {role for role, secret in _granted(found, "secretsmanager:") if secret == OPENAI_SECRET}
        expected_readers = set(EMBEDDING_ROLES) if "openai" in (provider, previous) else set()
        expected_readers |= {"ChunkFunctionRole"} if fields == "openai" else set()
        assert key_readers == expected_readers, chosen
        ocr_used = (parser, ocr) == ("local", "textract")
        assert _granted(found, "textract:") == ({("ParseFunctionRole", "*")} if ocr_used else set()), chosen
        models = {f"{FOUNDATION_MODEL}model-a"} if provider == "bedrock" else set()
        models |= {f"{FOUNDATION_MODEL}model-b"} if previous == "bedrock" else set()
        invoked = {(role, model) for role in EMBEDDING_ROLES for model in models}
        invoked |= {("ChunkFunctionRole", f"{FOUNDATION_MODEL}model-c")} if fields == "bedrock" else set()
        assert _granted(found, "bedrock:") == invoked, chosen


def test_star_resources_stay_where_aws_has_no_resource_level_permissions() -> None:
    allowed_star = {
        "xray:PutTraceSegments",
        "xray:PutTelemetryRecords",
        "ec2:DescribeNetworkInterfaces",
        "ec2:DescribeSubnets",
        "textract:AnalyzeDocument",
    }
    everything = {
        "Parser": "local",
        "OcrEngine": "textract",
        "EmbeddingProvider": "bedrock",
        "EmbeddingModel": TITAN,
        "PreviousEmbeddingProvider": "openai",
        "PreviousEmbeddingModel": "text-embedding-3-small",
        "FieldsLlmProvider": "bedrock",
        "FieldsLlmModel": HAIKU,
        "EmbeddingApiKeySecretArn": OPENAI_SECRET,
        "ApiDatabaseSecretArn": API_SECRET,
        "VpcSubnetIds": "subnet-1",
        "VpcSecurityGroupIds": "sg-1",
    }
    for role, found in grants(**everything).items():
        for sid, action, resource in found:
            if "*" in resource.rsplit(":", 1)[0] or resource == "*":
                # A wildcard only as the last segment of an ARN this stack owns (a prefix or a type), or "*"
                # for the actions that take nothing else.
                assert resource == "*" and action in allowed_star, (role, sid, action, resource)


@pytest.mark.parametrize(
    "name",
    [name for name in PARAMETERS if name.endswith("SecretArn")]
    + ["EmbeddingModel", "PreviousEmbeddingModel", "FieldsLlmModel"],
)
def test_a_secret_or_model_parameter_refuses_a_wildcard(name: str) -> None:
    pattern = re.compile(PARAMETERS[name]["AllowedPattern"])
    for wildcard in ("*", "arn:aws:secretsmanager:us-east-1:123456789012:secret:*", "amazon.*", "docintake/?"):
        assert pattern.fullmatch(wildcard) is None, wildcard
    examples = {"EmbeddingModel": TITAN, "PreviousEmbeddingModel": "text-embedding-3-small", "FieldsLlmModel": HAIKU}
    assert pattern.fullmatch(examples.get(name, LLAMAPARSE_SECRET))


def test_each_choice_reaches_the_functions_that_read_it_and_no_other() -> None:
    chosen = {
        "Parser": "llamaparse",
        "OcrEngine": "none",
        "LlamaParseApiKeySecretArn": LLAMAPARSE_SECRET,
        "LlamaParseBaseUrl": "https://api.cloud.eu.llamaindex.ai",
        "EmbeddingProvider": "openai",
        "EmbeddingModel": "text-embedding-3-large",
        "EmbeddingDimensions": 1536,
        "EmbeddingApiKeySecretArn": OPENAI_SECRET,
        "OpenAIBaseUrl": "https://example.openai.azure.com/openai/v1",
        "OpenAIMaxTokensPerRequest": 100000,
        "BedrockMaxConcurrency": 8,
        "FieldsLlmProvider": "openai",
        "FieldsLlmModel": "gpt-4o-mini",
    }
    resolver = _resolver(**chosen)
    environments = {
        name: {
            key: str(value)
            for key, value in resolver.resolve(function_properties(TEMPLATE, name)["Environment"]["Variables"]).items()
        }
        for name in FUNCTIONS
    }
    parsing = {
        "PARSER": "llamaparse",
        "OCR_ENGINE": "none",
        "LLAMAPARSE_API_KEY_SECRET_ARN": LLAMAPARSE_SECRET,
        "LLAMAPARSE_BASE_URL": "https://api.cloud.eu.llamaindex.ai",
    }
    embedding = {
        "EMBEDDING_PROVIDER": "openai",
        "EMBEDDING_MODEL": "text-embedding-3-large",
        "EMBEDDING_DIMENSIONS": "1536",
        "OPENAI_API_KEY_SECRET_ARN": OPENAI_SECRET,
        "OPENAI_BASE_URL": "https://example.openai.azure.com/openai/v1",
        "OPENAI_MAX_TOKENS_PER_REQUEST": "100000",
        "BEDROCK_MAX_CONCURRENCY": "8",
    }
    # The fields model in ChunkFunction, at the embedder's OpenAI-compatible endpoint with its key.
    fields = {
        "FIELDS_LLM_PROVIDER": "openai",
        "FIELDS_LLM_MODEL": "gpt-4o-mini",
        "OPENAI_API_KEY_SECRET_ARN": OPENAI_SECRET,
        "OPENAI_BASE_URL": "https://example.openai.azure.com/openai/v1",
    }
    for name, environment in environments.items():
        readers = {
            "ParseFunction": parsing,
            "EmbedFunction": embedding,
            "SearchFunction": embedding,
            "ChunkFunction": fields,
        }
        own = readers.get(name, {})
        assert {k: environment.get(k) for k in own} == own, name
        others = (set(parsing) | set(embedding) | set(fields)) - set(own)
        assert not others & set(environment), (name, others & set(environment))
        # The settings accept what the template hands them.
        settings = Settings(**{key.lower(): value for key, value in environment.items()})
        if name == "ParseFunction":
            assert (settings.parser, settings.llamaparse_api_key_secret_arn) == ("llamaparse", LLAMAPARSE_SECRET)
        if name in ("EmbedFunction", "SearchFunction"):
            assert (settings.embedding_provider, settings.embedding_dimensions) == ("openai", 1536)
            assert settings.openai_api_key_secret_arn == OPENAI_SECRET
        if name == "ChunkFunction":
            assert (settings.fields_llm_provider, settings.fields_llm_model) == ("openai", "gpt-4o-mini")
            assert settings.openai_api_key_secret_arn == OPENAI_SECRET


@pytest.mark.parametrize(
    ("parameter", "field"),
    [
        ("Parser", "parser"),
        ("OcrEngine", "ocr_engine"),
        ("EmbeddingProvider", "embedding_provider"),
        ("FieldsLlmProvider", "fields_llm_provider"),
    ],
)
def test_a_choice_parameter_offers_only_what_the_settings_accept(parameter: str, field: str) -> None:
    offered = set(PARAMETERS[parameter]["AllowedValues"])
    assert PARAMETERS[parameter]["Default"] in offered
    assert offered <= set(get_args(Settings.model_fields[field].annotation))
    # Left out on purpose: they need more than a zip function holds (RapidOCR ~390 MB, torch).
    assert set(get_args(Settings.model_fields[field].annotation)) - offered <= {"local", "sentence-transformers"}


def test_numeric_parameters_stay_within_the_settings_bounds() -> None:
    dimensions = PARAMETERS["EmbeddingDimensions"]
    assert (dimensions["MinValue"], dimensions["MaxValue"]) == (8, 2000)  # config.py: ge=8, le=2000
    concurrency = PARAMETERS["BedrockMaxConcurrency"]
    assert (concurrency["MinValue"], concurrency["MaxValue"]) == (1, 32)  # config.py: ge=1, le=32
    assert PARAMETERS["OpenAIMaxTokensPerRequest"]["MinValue"] >= 1


def _holds(resolver: Resolver, expression: Any) -> bool:
    """A rule function's value: the local resolver's, plus Fn::Contains, which only rules use."""
    (function, argument), *_ = expression.items()
    if function == "Fn::Contains":
        allowed, value = argument
        return resolver.resolve(value) in allowed
    if function in ("Fn::And", "Fn::Or"):
        values = [_holds(resolver, part) for part in argument]
        return all(values) if function == "Fn::And" else any(values)
    if function == "Fn::Not":
        return not _holds(resolver, argument[0])
    return bool(resolver.resolve(expression))


def _broken_rules(**parameters: Any) -> set[str]:
    resolver = _resolver(**parameters)
    return {
        name
        for name, rule in TEMPLATE["Rules"].items()
        if _holds(resolver, rule.get("RuleCondition", {"Fn::Equals": ["", ""]}))
        and not all(_holds(resolver, assertion["Assert"]) for assertion in rule["Assertions"])
    }


def test_a_choice_that_cannot_run_fails_the_deployment_not_the_first_upload() -> None:
    assert _broken_rules() == set()
    for parameters, _ in CASES.values():  # every case above is a deployable choice
        assert _broken_rules(**parameters) == set(), parameters
    # A provider without its key.
    assert _broken_rules(Parser="llamaparse") == {"LlamaParseNeedsItsKey"}
    assert _broken_rules(EmbeddingProvider="openai", EmbeddingModel="text-embedding-3-small") == {"OpenAINeedsItsKey"}
    previous_openai = {"PreviousEmbeddingProvider": "openai", "PreviousEmbeddingModel": "text-embedding-3-small"}
    assert _broken_rules(**previous_openai) == {"OpenAINeedsItsKey"}
    assert _broken_rules(**previous_openai, EmbeddingApiKeySecretArn=OPENAI_SECRET) == set()
    assert _broken_rules(PreviousEmbeddingProvider="minilm") == {"PreviousProviderNeedsItsModel"}
    # A model its provider does not run (and, with Bedrock, an ARN that would be granted for nothing).
    assert _broken_rules(EmbeddingProvider="wordllama") == {"WordLlamaRunsItsModels"}
    assert _broken_rules(EmbeddingProvider="wordllama", EmbeddingModel="wordllama-l2-supercat-128") == set()
    assert _broken_rules(EmbeddingModel="wordllama-l2-supercat-256") == {"MiniLMRunsItsModel"}
    assert _broken_rules(EmbeddingProvider="bedrock", EmbeddingModel="amazon.titan-embed-text-v1") == {
        "BedrockRunsTitanV2"
    }
    assert _broken_rules(PreviousEmbeddingProvider="bedrock", PreviousEmbeddingModel="cohere.embed-english-v3") == {
        "PreviousBedrockRunsTitanV2"
    }
    # A fields model without its name (with Bedrock, the ARN granted) or, OpenAI-compatible, without the key.
    assert _broken_rules(FieldsLlmProvider="bedrock") == {"FieldsLlmNeedsItsModel"}
    assert _broken_rules(FieldsLlmProvider="openai") == {"FieldsLlmNeedsItsModel", "FieldsLlmOpenAINeedsItsKey"}
    assert _broken_rules(FieldsLlmProvider="openai", FieldsLlmModel="gpt-4o-mini") == {"FieldsLlmOpenAINeedsItsKey"}
    assert _broken_rules(FieldsLlmProvider="none", FieldsLlmModel="") == set()
