"""Cold-start cost of the consumer helpers (issue 10): our `common/batch.py` + `common/log.py` vs AWS Powertools.

Run by hand (not collected by pytest): `python tests/handlers/measure_cold_start.py [POWERTOOLS_DIR]`, where
POWERTOOLS_DIR holds `pip install --target DIR aws-lambda-powertools` (the layer's content). Each variant is a
fresh interpreter importing the handler the way Lambda's init phase does (env set, module-level clients made);
runs are interleaved and the median is reported, with the median of `python -c pass` subtracted. The archive
size is that of the zip PythonFunction would build for send_email (handler + handlers/common + schemas).
"""

from __future__ import annotations

import io
import os
import statistics
import subprocess
import sys
import time
import zipfile
from pathlib import Path

ROOT = Path(os.environ.get("MEASURE_ROOT") or Path(__file__).resolve().parents[2])  # another checkout to compare
ENV = {
    **os.environ,
    "AWS_DEFAULT_REGION": "us-east-1", "AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "x",
    "SENDER_ADDRESS": "no-reply@example.com", "CONFIGURATION_SET": "c", "EMAIL_TEMPLATES": "{}",
    "PYTHONDONTWRITEBYTECODE": "1",
}
HANDLER = "import handlers.send_email"
VARIANTS = {
    "baseline (python -c pass)": "pass",
    "send_email today (own batch loop + JSON log)": HANDLER,
    "+ Powertools BatchProcessor": HANDLER + "\nfrom aws_lambda_powertools.utilities.batch import "
                                            "BatchProcessor, EventType, process_partial_response\n"
                                            "BatchProcessor(event_type=EventType.SQS)",
    "+ Powertools Logger": HANDLER + "\nfrom aws_lambda_powertools import Logger\nLogger(service='email')",
    "+ both": HANDLER + "\nfrom aws_lambda_powertools import Logger\nLogger(service='email')\n"
                        "from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType\n"
                        "BatchProcessor(event_type=EventType.SQS)",
}


def run(code: str, path: str) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, env={**ENV, "PYTHONPATH": path}, check=True)
    return (time.perf_counter() - start) * 1000


def archive_bytes(extra: Path | None = None) -> int:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        files = [ROOT / "handlers" / "send_email.py", *(ROOT / "handlers" / "common").glob("*.py"),
                 *(ROOT / "handlers" / "schemas").glob("*.json")]
        if extra:
            files += [p for p in extra.rglob("*") if p.is_file() and "__pycache__" not in p.parts]
        for f in files:
            archive.write(f, f.relative_to(extra.parent if extra and extra in f.parents else ROOT))
    return len(buffer.getvalue())


def main() -> None:
    powertools = sys.argv[1] if len(sys.argv) > 1 else ""
    path = os.pathsep.join(p for p in (str(ROOT), powertools) if p)
    rounds = int(os.environ.get("ROUNDS", "15"))
    samples: dict[str, list[float]] = {name: [] for name in VARIANTS}
    for code in VARIANTS.values():  # warm the OS file cache (Lambda's own disk is warm for the runtime)
        run(code, path)
    for _ in range(rounds):
        for name, code in VARIANTS.items():
            samples[name].append(run(code, path))
    base = statistics.median(samples["baseline (python -c pass)"])
    today = statistics.median(samples["send_email today (own batch loop + JSON log)"]) - base
    for name, values in samples.items():
        median = statistics.median(values) - base
        print(f"{name:48s} init {median:7.1f} ms  (vs today {median - today:+7.1f} ms)")
    print(f"send_email archive today: {archive_bytes():,} bytes zipped")
    if powertools:
        print(f"with Powertools bundled instead of a layer: {archive_bytes(Path(powertools) / 'aws_lambda_powertools'):,}"
              " bytes zipped")


if __name__ == "__main__":
    main()
