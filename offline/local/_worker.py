"""One warm Lambda worker: imports the handler from its own code directory only, then serves invocations.

Started as `python -I -u _worker.py <code dir> <runtime dir> <module.function> <result fd>`: `-I` keeps the
repository, the current directory and PYTHONPATH off sys.path, and site-packages is dropped too, so only the
function's archive, the standard library and what the Lambda Python runtime ships (boto3 and its
dependencies, linked into <runtime dir>) can be imported. Requests arrive as JSON lines on stdin; each result goes back as
one JSON line on the result pipe, so whatever the handler prints stays its log output.
"""

import json
import os
import sys
import time
import traceback
import uuid


class Context:
    def __init__(self, request_id, deadline, env):
        self.aws_request_id = request_id
        self.function_name = env.get("AWS_LAMBDA_FUNCTION_NAME", "")
        self.function_version = "$LATEST"
        self.invoked_function_arn = env.get("LOCAL_FUNCTION_ARN", "")
        self.memory_limit_in_mb = env.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
        self.log_group_name = env.get("AWS_LAMBDA_LOG_GROUP_NAME", "")
        self.log_stream_name = env.get("AWS_LAMBDA_LOG_STREAM_NAME", "")
        self._deadline = deadline

    def get_remaining_time_in_millis(self):
        return max(0, int((self._deadline - time.time()) * 1000))


def main():
    code_dir, runtime_dir, handler_path, result_fd = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    sys.path[:] = [code_dir, runtime_dir] + [p for p in sys.path if "site-packages" not in p]
    os.chdir(code_dir)
    results = os.fdopen(result_fd, "w", buffering=1)
    module_name, function_name = handler_path.rsplit(".", 1)
    try:
        handler = getattr(__import__(module_name, fromlist=[function_name]), function_name)
        init_error = None
    except Exception as error:  # an import-time failure is reported on every invocation, like Lambda's
        traceback.print_exc()
        handler, init_error = None, error
    for line in sys.stdin:
        request = json.loads(line)
        request_id = request.get("requestId") or str(uuid.uuid4())
        print(f"START RequestId: {request_id}", flush=True)
        started = time.time()
        delay = float(request.get("injectDelay") or 0)
        if delay:
            time.sleep(delay)
        try:
            if init_error is not None:
                raise init_error
            if request.get("injectError"):
                # A named error type lets Step Functions' Retry/Catch match it (e.g. TransientError).
                kind = type(request.get("injectErrorType") or "RuntimeError", (Exception,), {})
                raise kind(request["injectError"])
            payload = handler(request["event"], Context(request_id, request["deadline"], os.environ))
            result = {"ok": True, "payload": payload}
        except Exception as error:
            traceback.print_exc()
            result = {"ok": False, "payload": {"errorType": type(error).__name__, "errorMessage": str(error)}}
        sys.stdout.flush()
        sys.stderr.flush()
        print(f"END RequestId: {request_id} Duration: {(time.time() - started) * 1000:.1f} ms", flush=True)
        results.write(json.dumps(result, default=str) + "\n")


if __name__ == "__main__":
    main()
