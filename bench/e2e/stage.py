"""One stage's handler in a fresh process: ``python -m bench.e2e.stage FunctionLogicalId`` with the running
stack's endpoints as JSON on stdin. Delivers the one message the function's queue holds and prints
``{"function", "seconds", "peak_rss_mb", "child_peak_rss_mb"}`` (peak RSS of this process, and of the
parser's sandbox child when there is one)."""

from __future__ import annotations

import json
import resource
import sys
import time
from pathlib import Path

from docintake_local.postgres import LocalDatabase
from docintake_local.stack import LocalStack, project_root


def peak_rss_mb() -> float:
    """This process's peak RSS since exec (VmHWM). Not ru_maxrss: Linux carries the forking parent's
    high-water mark across execve into it, which would charge the benchmark's own memory to the handler."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> int:
    function = sys.argv[1]
    config = json.loads(sys.stdin.read())
    stack = LocalStack(
        project_root(),
        LocalDatabase(config["admin_url"]),
        aws_endpoint=config["aws_endpoint"],
        stack_name=config["stack_name"],
        environment=config["environment"],
        log_file=project_root() / ".local" / "logs" / "bench-e2e.jsonl",
    )
    stack.start(pollers=False)
    try:
        source = next(s for s in stack.sources if s.function == function)
        stack.load_function(function)
        sqs = stack.client("sqs")
        url = stack.queue_urls[source.queue]
        deadline = time.monotonic() + 60
        messages: list[dict[str, object]] = []
        while not messages and time.monotonic() < deadline:
            messages = sqs.receive_message(
                QueueUrl=url, MaxNumberOfMessages=1, WaitTimeSeconds=1, AttributeNames=["All"]
            ).get("Messages", [])
            if messages and '"s3:TestEvent"' in str(messages[0]["Body"]):
                # S3 announces each notification configuration with a test event: not an upload.
                sqs.delete_message(QueueUrl=url, ReceiptHandle=str(messages[0]["ReceiptHandle"]))
                messages = []
        if not messages:
            raise SystemExit(f"no message for {function}")
        started = time.perf_counter()
        stack._deliver(sqs, url, source, messages)
        seconds = time.perf_counter() - started
    finally:
        stack.stop()
    own = peak_rss_mb()
    # The parser's sandbox is forked without exec: its high-water mark is its own.
    child = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(json.dumps({"function": function, "seconds": seconds, "peak_rss_mb": own, "child_peak_rss_mb": child}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
