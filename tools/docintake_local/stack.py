"""The local stack: moto for S3 and SQS, resources created from template.yaml's own definitions, and
one poller per event source that invokes the real handler with Lambda's semantics.

With a state folder (``docintake local up``), its S3 objects and queue messages are kept on disk
(``persistence``) and, at start, the database is reconciled with them (``reconciliation``) before any
poller runs. A poller survives whatever a message does to it; ``dead_components`` names what stopped."""

from __future__ import annotations

import contextlib
import dataclasses
import http.client
import importlib.util
import json
import logging
import os
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import boto3
import psycopg
from botocore.config import Config

from docintake.context import Context
from docintake.db import Database
from docintake.logs import HandlerFailed, describe_exception, function_logger
from docintake_local.persistence import MotoState
from docintake_local.postgres import LocalDatabase
from docintake_local.template import Resolver, function_properties, load_template, resources_of_type

REGION = "us-east-1"
# Lambda's async invocation: the first try and two retries, then the on-failure destination.
ASYNC_ATTEMPTS = 3
LOCAL_ENVIRONMENT = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": REGION,
    "AWS_REGION": REGION,
    "POWERTOOLS_TRACE_DISABLED": "true",
    "POWERTOOLS_SERVICE_NAME": "docintake",
}
log = logging.getLogger("docintake.local")
SECRET_ROLES = {"ApiDatabaseSecretArn": "api", "SweeperDatabaseSecretArn": "sweeper"}
_RATE = {"minute": 60, "minutes": 60, "hour": 3600, "hours": 3600, "day": 86400, "days": 86400}


class InvocationCrashed(BaseException):
    """Raised inside a handler to stand for the Lambda runtime dying mid-invocation (a timeout, an OOM kill):
    nothing after it runs, the batch is neither acknowledged nor failed, and SQS redelivers it."""


_QUEUE_PROPERTIES = {"QueueName", "VisibilityTimeout", "MessageRetentionPeriod", "RedrivePolicy"}


def project_root() -> Path:
    """The checkout holding template.yaml: the working directory or one above it, else the package's."""
    for folder in [Path.cwd(), *Path.cwd().parents, Path(__file__).resolve().parents[2]]:
        if (folder / "template.yaml").exists() and (folder / "functions").is_dir():
            return folder
    raise FileNotFoundError("template.yaml not found: run docintake from the project checkout")


@dataclass
class LambdaContext:
    """What Lambda hands a handler, enough for Powertools and the stage machine."""

    function_name: str
    timeout_seconds: int
    memory_limit_in_mb: int = 1024
    function_version: str = "$LATEST"
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    _deadline: float = 0.0

    def __post_init__(self) -> None:
        self._deadline = time.monotonic() + self.timeout_seconds
        self.invoked_function_arn = f"arn:aws:lambda:{REGION}:123456789012:function:{self.function_name}"
        self.log_group_name = f"/aws/lambda/{self.function_name}"
        self.log_stream_name = "local"

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


@dataclass
class EventSource:
    """An SQS queue feeding a function: its own stage queue, or the queue standing in for S3's async invoke
    (then ``attempts`` deliveries, after which the on-failure destination receives Lambda's record)."""

    function: str
    queue: str
    batch_size: int
    partial_failures: bool
    s3_async: bool = False
    attempts: int = ASYNC_ATTEMPTS
    failure_queue: str | None = None
    # The event source mapping's ScalingConfig.MaximumConcurrency, when it has one.
    max_concurrency: int | None = None


_EMBEDDING_SETTINGS = ("EMBEDDING_PROVIDER", "EMBEDDING_MODEL", "EMBEDDING_DIMENSIONS")


@dataclass
class InvocationTimings:
    """How long each function's invocations ran here, against the timeout Lambda would have enforced: the
    large-document benchmark's evidence that no invocation grows with the document."""

    count: dict[str, int] = field(default_factory=dict)
    longest: dict[str, float] = field(default_factory=dict)
    timeout: dict[str, int] = field(default_factory=dict)
    over_timeout: dict[str, int] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def record(self, function: str, seconds: float, timeout: int) -> None:
        with self._lock:
            self.count[function] = self.count.get(function, 0) + 1
            self.longest[function] = max(self.longest.get(function, 0.0), seconds)
            self.timeout[function] = timeout
            if seconds > timeout:
                self.over_timeout[function] = self.over_timeout.get(function, 0) + 1

    def reset(self) -> None:
        with self._lock:
            self.count.clear()
            self.longest.clear()
            self.over_timeout.clear()


class LocalStack:
    """Everything ``template.yaml`` describes, on this machine. Use ``with LocalStack(...).running():``."""

    def __init__(
        self,
        root: Path,
        database: LocalDatabase,
        *,
        aws_endpoint: str | None = None,
        visibility_timeout: int | None = None,
        log_file: Path | None = None,
        stack_name: str = "docintake-local",
        function_timeout: int | None = None,
        environment: dict[str, str] | None = None,
        concurrency: int = 1,
        state_dir: Path | None = None,
        snapshot_seconds: float = 2.0,
    ) -> None:
        self.root = root
        self.database = database
        self.template = load_template(root / "template.yaml")
        self.aws_endpoint = aws_endpoint
        self.visibility_timeout = visibility_timeout  # tests shorten redelivery; None keeps the template's
        self.log_file = log_file
        self.stack_name = stack_name
        self.function_timeout = function_timeout  # chaos runs shorten every function's timeout (and lease)
        self.environment = environment or {}  # applied to every function over the template's
        # Containers per SQS-driven function, each with its own poller, module instance and connections, as
        # Lambda scales a queue's consumers (capped by the source's MaximumConcurrency). Tests keep one:
        # locally the containers share a process, so their log lines share one logger's keys.
        self.concurrency = concurrency
        # Where S3 objects and queue messages are kept between runs (None: in moto's memory only), and how
        # often they are saved while running: a hard kill loses at most that much.
        self.state_dir = state_dir
        self.snapshot_seconds = snapshot_seconds
        self.state: MotoState | None = None
        self.reconciliation: Any = None  # what the start found and did (reconciliation.Reconciliation)
        self.schedules: list[tuple[str, float]] = []
        self.resolver = Resolver(self.template, region=REGION, stack_name=stack_name)
        self.queue_urls: dict[str, str] = {}
        self.bucket = ""
        self.sources: list[EventSource] = []
        self.functions: dict[str, ModuleType] = {}
        self.extra_containers: list[ModuleType] = []  # pollers' containers beyond the first (concurrency)
        self._moto: Any = None
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._saved_env: dict[str, str | None] = {}
        self.timings = InvocationTimings()

    # --- lifecycle -----------------------------------------------------------------------------------

    @contextmanager
    def running(self, *, pollers: bool = True, schedules: bool = False) -> Iterator[LocalStack]:
        self.start(pollers=pollers, schedules=schedules)
        try:
            yield self
        finally:
            self.stop()

    def start(self, *, pollers: bool = True, schedules: bool = False) -> None:
        self._stop.clear()
        self._saved_env = {k: os.environ.get(k) for k in [*LOCAL_ENVIRONMENT, "AWS_ENDPOINT_URL"]}
        os.environ.update(LOCAL_ENVIRONMENT)
        if self.log_file is not None:
            # The operator commands log and emit metrics through the functions' logger without loading a
            # function (metrics fall back to stdout when it has no handler): it exists, writing to the log
            # file, before anything runs, and the handlers' function_logger() reuses it.
            function_logger()
            _redirect_logs(self.log_file)
        if self.aws_endpoint is None:
            from moto.server import ThreadedMotoServer

            logging.getLogger("werkzeug").setLevel(logging.ERROR)
            self._moto = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
            self._moto.start()
            host, port = self._moto.get_host_and_port()
            self.aws_endpoint = f"http://{host}:{port}"
        os.environ["AWS_ENDPOINT_URL"] = self.aws_endpoint
        self.create_resources()
        if self.state_dir is not None:
            self._restore_and_reconcile()
        if pollers:
            self.start_pollers()
        if schedules:
            self.start_schedules()

    def _restore_and_reconcile(self) -> None:
        """Brings back the saved S3 objects and messages, then squares the database with them, before any
        poller runs (so no lease taken now is mistaken for one of the previous run's)."""
        from docintake_local.reconciliation import reconcile

        assert self.state_dir is not None
        self.state = MotoState(self.state_dir, self.bucket, self.queue_names(), REGION)
        self.state.check()
        restored = self.state.restore()
        self.reconciliation = reconcile(self, restored)
        thread = threading.Thread(target=self._save_state, name="state-snapshots", daemon=True)
        thread.start()
        self._threads.append(thread)

    def queue_names(self) -> list[str]:
        return [url.rsplit("/", 1)[1] for url in self.queue_urls.values()]

    def _save_state(self) -> None:
        while not self._stop.wait(self.snapshot_seconds):
            try:
                assert self.state is not None
                self.state.save()
            except Exception as exc:
                log.warning("saving the local stack's state failed: %s", describe_exception(exc))

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=30)
        self._threads.clear()
        if self.state is not None:
            # Pollers have stopped: what moto holds now is what the next start must find.
            try:
                self.state.save()
            except Exception as exc:
                log.error("the local stack's state could not be saved at stop: %s", describe_exception(exc))
            self.state = None
        for module in [*self.functions.values(), *self.extra_containers]:
            # A stage's or API function's context, the sweeper's, or (SearchFunction) its database alone.
            for name in ("pipeline", "operations"):
                context = getattr(module, name, None)
                if context is not None:
                    context.db.close()
            database = getattr(module, "db", None)
            if database is not None:
                database.close()
        self.functions.clear()  # their connections are closed: a restart loads fresh containers
        self.extra_containers.clear()
        if self._moto is not None:
            self._moto.stop()
            self._moto = None
            self.aws_endpoint = None  # a restart starts a moto of its own again, on a port of its own
        for key, value in self._saved_env.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value

    def client(self, service: str) -> Any:
        return boto3.client(  # type: ignore[call-overload]
            service,
            endpoint_url=self.aws_endpoint,
            region_name=REGION,
            config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 2}),
        )

    # --- resources from the template ------------------------------------------------------------------

    def create_resources(self) -> None:
        sqs, s3 = self.client("sqs"), self.client("s3")
        queues = resources_of_type(self.template, "AWS::SQS::Queue")
        # Dead-letter queues first: the others name them in their redrive policies.
        ordered = sorted(queues, key=lambda name: "RedrivePolicy" in queues[name].get("Properties", {}))
        for logical in ordered:
            self._create_queue(sqs, logical, queues[logical].get("Properties", {}))
        for logical, spec in resources_of_type(self.template, "AWS::S3::Bucket").items():
            self.bucket = str(self.resolver.resolve(spec["Properties"].get("BucketName", logical.lower())))
            self.resolver.refs[logical] = self.bucket
            self.resolver.attrs[(logical, "Arn")] = f"arn:aws:s3:::{self.bucket}"
            with contextlib.suppress(s3.exceptions.BucketAlreadyOwnedByYou):
                s3.create_bucket(Bucket=self.bucket)
            s3.put_bucket_versioning(Bucket=self.bucket, VersioningConfiguration={"Status": "Enabled"})
        self.sources = []
        self.schedules = []
        notifications: list[dict[str, Any]] = []
        functions = resources_of_type(self.template, "AWS::Serverless::Function")
        for logical in functions:
            self.resolver.refs[logical] = f"{self.stack_name}-{logical}"
        for logical in functions:
            props = function_properties(self.template, logical)
            for event in props.get("Events", {}).values():
                if event["Type"] == "Schedule" and str(event["Properties"]["Schedule"]).startswith("rate("):
                    self.schedules.append((logical, _rate_seconds(str(event["Properties"]["Schedule"]))))
                if event["Type"] == "SQS":
                    queue = event["Properties"]["Queue"]["Fn::GetAtt"][0]
                    scaling = self.resolver.resolve(event["Properties"].get("ScalingConfig", {}))
                    self.sources.append(
                        EventSource(
                            logical,
                            queue,
                            int(self.resolver.resolve(event["Properties"].get("BatchSize", 10))),
                            "ReportBatchItemFailures" in event["Properties"].get("FunctionResponseTypes", []),
                            max_concurrency=int(scaling["MaximumConcurrency"])
                            if "MaximumConcurrency" in scaling
                            else None,
                        )
                    )
                elif event["Type"] == "S3":
                    notifications.append(self._s3_source(sqs, logical, props, event["Properties"]))
        if notifications and self.bucket:
            s3.put_bucket_notification_configuration(
                Bucket=self.bucket, NotificationConfiguration={"QueueConfigurations": notifications}
            )

    def _create_queue(self, sqs: Any, logical: str, props: dict[str, Any]) -> None:
        # Only what SQS needs; RedriveAllowPolicy names source queues that do not exist yet.
        resolved = {k: self.resolver.resolve(v) for k, v in props.items() if k in _QUEUE_PROPERTIES}
        attributes: dict[str, str] = {}
        if "VisibilityTimeout" in resolved:
            attributes["VisibilityTimeout"] = str(self.visibility_timeout or resolved["VisibilityTimeout"])
        if "MessageRetentionPeriod" in resolved:
            attributes["MessageRetentionPeriod"] = str(resolved["MessageRetentionPeriod"])
        if "RedrivePolicy" in resolved:
            policy = resolved["RedrivePolicy"]
            attributes["RedrivePolicy"] = json.dumps(
                {
                    "deadLetterTargetArn": policy["deadLetterTargetArn"],
                    "maxReceiveCount": str(policy["maxReceiveCount"]),
                }
            )
        self._register_queue(sqs, logical, attributes, str(resolved.get("QueueName", logical)))

    def _register_queue(self, sqs: Any, logical: str, attributes: dict[str, str], name: str) -> str:
        url = sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        self.queue_urls[logical] = url
        self.resolver.refs[logical] = url
        self.resolver.attrs[(logical, "Arn")] = arn
        self.resolver.attrs[(logical, "QueueName")] = name
        return str(url)

    def _s3_source(self, sqs: Any, function: str, props: dict[str, Any], event: dict[str, Any]) -> dict[str, Any]:
        """S3 invokes the function asynchronously; locally a queue carries the events, with the async
        retries (MaximumRetryAttempts) as its maxReceiveCount and the on-failure destination as its DLQ."""
        invoke_config = props.get("EventInvokeConfig", {})
        retries = int(self.resolver.resolve(invoke_config.get("MaximumRetryAttempts", ASYNC_ATTEMPTS - 1)))
        failure = invoke_config.get("DestinationConfig", {}).get("OnFailure", {}).get("Destination")
        if failure is None and "DeadLetterQueue" in props:
            failure = props["DeadLetterQueue"]["TargetArn"]
        attributes = {"VisibilityTimeout": str(self.visibility_timeout or 60)}
        failure_queue = None
        if failure is not None:
            arn = str(self.resolver.resolve(failure))
            failure_queue = next(name for (name, attr), value in self.resolver.attrs.items() if value == arn)
        queue = f"{function}AsyncEvents"
        url = self._register_queue(sqs, queue, attributes, f"{self.stack_name}-{function}-async-events")
        self.sources.append(
            EventSource(function, queue, 1, False, s3_async=True, attempts=retries + 1, failure_queue=failure_queue)
        )
        config: dict[str, Any] = {
            "QueueArn": self.resolver.attrs[(queue, "Arn")],
            "Events": self.resolver.resolve(
                event["Events"] if isinstance(event["Events"], list) else [event["Events"]]
            ),
        }
        rules = self.resolver.resolve(event.get("Filter", {}).get("S3Key", {}).get("Rules", []))
        if rules:
            config["Filter"] = {"Key": {"FilterRules": rules}}
        log.debug("S3 events for %s go through %s", function, url)
        return config

    # --- functions -----------------------------------------------------------------------------------

    def function_environment(self, logical: str) -> dict[str, str]:
        """The function's environment from the template, with the local database and endpoint."""
        props = function_properties(self.template, logical)
        raw = props.get("Environment", {}).get("Variables", {})
        env = {k: v for k, v in ((k, self.resolver.resolve(v)) for k, v in raw.items()) if v not in (None, "")}
        secret = raw.get("DATABASE_SECRET_ARN")
        role = SECRET_ROLES.get(str(secret.get("Ref", "")), "worker") if isinstance(secret, dict) else "worker"
        env.pop("DATABASE_SECRET_ARN", None)
        if "OCR_ENGINE" in env:
            # Textract is AWS's: on this machine OCR is RapidOCR (the `ocr` extra) unless OCR_ENGINE says else.
            env["OCR_ENGINE"] = os.environ.get("OCR_ENGINE", "local")
        # The embedder can be chosen for the whole local stack from the shell, as `sam local invoke
        # --env-vars` would (the test suite runs on the offline hash embedder this way).
        chosen = {name: os.environ[name] for name in _EMBEDDING_SETTINGS if os.environ.get(name)}
        if "EMBEDDING_PROVIDER" in chosen:
            # Another provider than the template's takes its own model unless one is named too (config.py).
            env.pop("EMBEDDING_MODEL", None)
            env.pop("EMBEDDING_DIMENSIONS", None)
        env.update(chosen)
        env.update(self.environment)
        env["DATABASE_URL"] = self.database.role_url(role)
        env["AWS_ENDPOINT_URL"] = str(self.aws_endpoint)
        env["AWS_LAMBDA_FUNCTION_NAME"] = logical
        return {k: ",".join(v) if isinstance(v, list) else str(v) for k, v in env.items()}

    def load_function(self, logical: str, overrides: dict[str, str] | None = None) -> ModuleType:
        """Imports the function's handler module the way Lambda would, with its environment applied."""
        if logical in self.functions and not overrides:
            return self.functions[logical]
        module = self._new_container(logical, overrides)
        if not overrides:
            self.functions[logical] = module
        return module

    def _new_container(self, logical: str, overrides: dict[str, str] | None = None, number: int = 0) -> ModuleType:
        """A fresh instance of the handler module: its own settings, clients and database connection."""
        props = function_properties(self.template, logical)
        module_name, _ = str(props["Handler"]).rsplit(".", 1)
        path = self.root / str(props["CodeUri"]) / f"{module_name.replace('.', '/')}.py"
        env = {**self.function_environment(logical), **(overrides or {})}
        with _environment(env):
            name = f"docintake_function_{logical}" + (f"_{number}" if number else "")
            spec = importlib.util.spec_from_file_location(name, path)
            assert spec is not None and spec.loader is not None
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
        if self.log_file is not None:
            _redirect_logs(self.log_file)
        operations = getattr(module, "operations", None)
        if operations is not None:
            # There is no Lambda service here to invoke ValidateFunction: its async-event queue stands in.
            module.operations = dataclasses.replace(operations, invoke_validate=self.invoke_validate_async)  # type: ignore[attr-defined]
        return module

    def invoke(
        self,
        logical: str,
        event: dict[str, Any],
        overrides: dict[str, str] | None = None,
        container: ModuleType | None = None,
    ) -> Any:
        module = container or self.load_function(logical, overrides)
        props = function_properties(self.template, logical)
        context = LambdaContext(
            logical,
            self.function_timeout or int(self.resolver.resolve(props.get("Timeout", 3))),
            int(self.resolver.resolve(props.get("MemorySize", 128))),
        )
        handler = getattr(module, str(props["Handler"]).rsplit(".", 1)[1])
        started = time.monotonic()
        try:
            return handler(event, context)
        finally:
            self.timings.record(logical, time.monotonic() - started, context.timeout_seconds)

    # --- pollers -------------------------------------------------------------------------------------

    def start_pollers(self) -> None:
        # Every container and client first, then the threads: loading a module applies its environment to
        # os.environ, and boto3's default session is not thread-safe, so neither may overlap a running poller.
        pollers: list[tuple[EventSource, ModuleType | None, Any]] = []
        for source in self.sources:
            self.load_function(source.function)
            # The first container is looked up at each delivery (tests swap it); the others are extra.
            containers: list[ModuleType | None] = [None]
            if not source.s3_async:
                wanted = min(self.concurrency, source.max_concurrency or self.concurrency)
                extra = [self._new_container(source.function, number=n) for n in range(1, wanted)]
                self.extra_containers += extra
                containers += extra
            pollers += [(source, container, self.client("sqs")) for container in containers]
        for number, (source, container, sqs) in enumerate(pollers):
            thread = threading.Thread(
                target=self._poll, args=(source, container, sqs), name=f"poll-{source.queue}-{number}", daemon=True
            )
            thread.start()
            self._threads.append(thread)

    def start_schedules(self) -> None:
        """EventBridge schedules (the sweeper): each function invoked at its rate, first after one period."""
        for function, seconds in self.schedules:
            self.load_function(function)
            thread = threading.Thread(
                target=self._tick, args=(function, seconds), name=f"schedule-{function}", daemon=True
            )
            thread.start()
            self._threads.append(thread)

    def _tick(self, function: str, seconds: float) -> None:
        while not self._stop.wait(seconds):
            try:
                self.invoke(function, {"source": "aws.events", "detail-type": "Scheduled Event", "detail": {}})
            except (Exception, InvocationCrashed) as exc:
                log.warning("scheduled %s failed: %s", function, describe_exception(exc))

    def operations(self, role: str = "sweeper", **settings: Any) -> Context:
        """What the operator commands work with, against this stack, as ``role``."""
        from docintake.config import Settings

        env = {**self.function_environment("SweeperFunction"), **{k.upper(): str(v) for k, v in settings.items()}}
        env["DATABASE_URL"] = self.database.role_url(role)
        with _environment(env):
            resolved = Settings()
        return Context(
            resolved,
            Database(resolved.database_url or ""),
            self.client("s3"),
            self.client("sqs"),
            "docintake-cli",
            self.invoke_validate_async,
        )

    def run_until_idle(self, *, max_rounds: int = 50) -> int:
        """Delivers what the queues hold, source by source, in this thread, until a round finds nothing.
        Deterministic: for tests and for `docintake invoke`-style stepping. Returns the messages delivered."""
        sqs = self.client("sqs")
        delivered = 0
        for _ in range(max_rounds):
            found = 0
            for source in self.sources:
                url = self.queue_urls[source.queue]
                messages = sqs.receive_message(
                    QueueUrl=url,
                    MaxNumberOfMessages=min(10, source.batch_size),
                    AttributeNames=["All"],
                    MessageAttributeNames=["All"],
                ).get("Messages", [])
                if messages:
                    found += len(messages)
                    self._deliver(sqs, url, source, messages)
            delivered += found
            if not found:
                return delivered
        return delivered

    def _poll(self, source: EventSource, container: ModuleType | None, sqs: Any) -> None:
        url = self.queue_urls[source.queue]
        while not self._stop.is_set():
            try:
                response = sqs.receive_message(
                    QueueUrl=url,
                    MaxNumberOfMessages=min(10, source.batch_size),
                    WaitTimeSeconds=1,
                    AttributeNames=["All"],
                    MessageAttributeNames=["All"],
                )
            except Exception as exc:  # moto going away at shutdown
                if self._stop.is_set():
                    return
                log.warning("receive failed on %s: %s", source.queue, describe_exception(exc))
                time.sleep(1)
                continue
            messages = response.get("Messages", [])
            if not messages:
                continue
            try:
                self._deliver(sqs, url, source, messages, container)
            except BaseException as exc:  # whatever a message does, the poller goes on
                # Nothing acknowledged: as SQS would, the batch comes back after its visibility timeout and
                # the redrive policy (or, for the async queue, the attempts) decides where it ends.
                log.error(
                    "delivery to %s failed; its messages come back after the visibility timeout: %s",
                    source.function,
                    describe_exception(exc),
                )

    def dead_components(self) -> list[str]:
        """The parts of a running stack that have stopped: poller and schedule threads, moto, PostgreSQL."""
        if self._stop.is_set():
            return []
        dead = [f"thread {thread.name}" for thread in self._threads if not thread.is_alive()]
        # A second probe before calling it dead: one slow answer on a loaded machine is not a dead server.
        if self._moto is not None and not self._moto_answers() and not self._moto_answers():
            dead.append("moto server")
        try:
            with psycopg.connect(self.database.admin_url, connect_timeout=5) as conn:
                conn.execute("SELECT 1")
        except Exception as exc:
            dead.append(f"PostgreSQL ({describe_exception(exc)})")
        return dead

    def _moto_answers(self, timeout: float = 2.0) -> bool:
        """Whether the stack's own moto serves a request. Its thread outlives a shut-down server for a
        moment and a hung server keeps its thread, so only an answer counts as alive."""
        thread = getattr(self._moto, "_thread", None)
        if thread is None or not thread.is_alive():
            return False
        host, port = self._moto.get_host_and_port()
        connection = http.client.HTTPConnection(host, port, timeout=timeout)
        try:
            connection.request("HEAD", "/moto-api/")
            connection.getresponse().read()
        except (OSError, http.client.HTTPException):
            return False
        finally:
            connection.close()
        return True

    def _deliver(
        self,
        sqs: Any,
        url: str,
        source: EventSource,
        messages: list[dict[str, Any]],
        container: ModuleType | None = None,
    ) -> None:
        if source.s3_async:
            done = [m for m in messages if self._invoke_async(source, m)]
        else:
            done = self._invoke_batch(source, messages, container)
        for message in done:
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])

    def _invoke_async(self, source: EventSource, message: dict[str, Any]) -> bool:
        attempt = int(message.get("Attributes", {}).get("ApproximateReceiveCount", 1))
        event: Any = message["Body"]
        try:
            # A body that is no JSON object fails its invocation like any other error: retried, then sent
            # to the on-failure destination, while the poller goes on with the next event.
            event = json.loads(message["Body"])
            if not isinstance(event, dict):
                raise ValueError("the event is not a JSON object")
            if event.get("Event") == "s3:TestEvent":
                return True
            self.invoke(source.function, event)
        except (Exception, InvocationCrashed) as exc:
            if attempt < source.attempts or source.failure_queue is None:
                log.warning("%s failed (%s); the event is retried", source.function, describe_exception(exc))
                return False
            self._send_failure_record(source, event, exc, attempt)
            log.warning("%s failed %d times; the event went to its on-failure destination", source.function, attempt)
        return True

    def _send_failure_record(self, source: EventSource, event: Any, exc: BaseException, attempt: int) -> None:
        """What Lambda sends an SQS on-failure destination after the last retry of an async invocation."""
        assert source.failure_queue is not None
        record = {
            "version": "1.0",
            "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime()),
            "requestContext": {
                "requestId": str(uuid.uuid4()),
                "functionArn": f"arn:aws:lambda:{REGION}:123456789012:function:{source.function}:$LATEST",
                "condition": "RetriesExhausted",
                "approximateInvokeCount": attempt,
            },
            "requestPayload": event,
            "responseContext": {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"},
            # What the runtime reports: the exception's type and message (HandlerFailed's is scrubbed).
            "responsePayload": {
                "errorType": type(exc).__name__,
                "errorMessage": str(exc) if isinstance(exc, HandlerFailed) else describe_exception(exc),
            },
        }
        self.client("sqs").send_message(QueueUrl=self.queue_urls[source.failure_queue], MessageBody=json.dumps(record))

    def invoke_validate_async(self, event: dict[str, Any]) -> None:
        """Lambda's asynchronous invoke of ValidateFunction, as the sweeper and DLQ replay use it."""
        source = next(s for s in self.sources if s.s3_async)
        self.client("sqs").send_message(QueueUrl=self.queue_urls[source.queue], MessageBody=json.dumps(event))

    def _invoke_batch(
        self, source: EventSource, messages: list[dict[str, Any]], container: ModuleType | None = None
    ) -> list[dict[str, Any]]:
        event = {"Records": [self._sqs_record(source, m) for m in messages]}
        try:
            result = self.invoke(source.function, event, container=container) or {}
        except InvocationCrashed:
            log.warning("%s crashed; its batch comes back after the visibility timeout", source.function)
            return []
        except Exception as exc:
            # A raised error fails the whole batch: every message comes back after its visibility timeout.
            log.warning("%s failed its whole batch: %s", source.function, describe_exception(exc))
            return []
        if not source.partial_failures:
            return messages
        failed = {item["itemIdentifier"] for item in result.get("batchItemFailures", [])}
        return [m for m in messages if m["MessageId"] not in failed]

    def _sqs_record(self, source: EventSource, message: dict[str, Any]) -> dict[str, Any]:
        return {
            "messageId": message["MessageId"],
            "receiptHandle": message["ReceiptHandle"],
            "body": message["Body"],
            "attributes": message.get("Attributes", {}),
            "messageAttributes": {
                name: {
                    "stringValue": value.get("StringValue"),
                    "binaryValue": value.get("BinaryValue"),
                    "stringListValues": [],
                    "binaryListValues": [],
                    "dataType": value["DataType"],
                }
                for name, value in message.get("MessageAttributes", {}).items()
            },
            "md5OfBody": message.get("MD5OfBody", ""),
            "eventSource": "aws:sqs",
            "eventSourceARN": self.resolver.attrs[(source.queue, "Arn")],
            "awsRegion": REGION,
        }

    # --- state for other commands ------------------------------------------------------------------------

    def describe(self) -> dict[str, Any]:
        return {
            "pid": os.getpid(),
            "aws_endpoint": self.aws_endpoint,
            "database_url": self.database.admin_url,
            "bucket": self.bucket,
            "queues": self.queue_urls,
        }


def _rate_seconds(expression: str) -> float:
    """rate(5 minutes) → 300.0 (cron() schedules are not run locally)."""
    value, unit = expression.removeprefix("rate(").removesuffix(")").split()
    return float(value) * _RATE[unit]


@contextmanager
def _environment(values: dict[str, str]) -> Iterator[None]:
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def _redirect_logs(path: Path) -> None:
    """Function logs (Powertools JSON on stdout) go to a file, so the CLI's own output stays readable."""
    path.parent.mkdir(parents=True, exist_ok=True)
    logger = logging.getLogger(os.environ.get("POWERTOOLS_SERVICE_NAME", "docintake"))
    for handler in logger.handlers:
        if not isinstance(handler, logging.StreamHandler):
            continue
        previous = getattr(handler, "docintake_log_file", None)
        if previous == path:
            continue
        if handler.stream is sys.stdout or previous is not None:
            # One logger per process: a later stack (the next test) moves it to its own file.
            old = handler.setStream(path.open("a", encoding="utf-8"))
            if previous is not None and old is not None:
                old.close()
            handler.docintake_log_file = path  # type: ignore[attr-defined]
