"""`make soak`: the model-based money test, long, with DynamoDB faults, on every core.

One pytest process per core (SOAK_WORKERS) runs `tests/model/test_model_based.py::test_soak`
with its own seed and its share of MODEL_EXAMPLES stories of MODEL_STEPS steps, each in
its own in-process moto: the stories are independent. This prints what the stories
reached, the steps per second, and for a failing worker its shrunk story, its
`@reproduce_failure` blob and the command that replays it (docs/operations.md "Soak").
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
GOAL_STEPS, GOAL_SECONDS = 5_000, 15 * 60  # issue 30: on two cores


def main() -> int:
    workers = int(os.environ.get("SOAK_WORKERS") or os.cpu_count() or 1)
    examples, steps = int(os.environ.get("MODEL_EXAMPLES", 70)), int(os.environ.get("MODEL_STEPS", 100))
    first_seed = int(os.environ.get("MODEL_SEED") or int.from_bytes(os.urandom(4), "big"))
    out = Path(tempfile.mkdtemp(prefix="paylater-soak-"))
    print(f"soak: {examples} stories x {steps} steps on {workers} workers, seeds from {first_seed} (logs: {out})")
    started = time.monotonic()
    runs = []
    for w in range(workers):
        share = examples // workers + (w < examples % workers)
        if not share:
            continue
        env = {
            **os.environ,
            "MODEL_EXAMPLES": str(share),
            "MODEL_STEPS": str(steps),
            "MODEL_SEED": str(first_seed + w),
            "MODEL_REPORT": str(out / f"worker-{w}.json"),
            "PYTHONPATH": str(ROOT),
        }
        args = ["-m", "pytest", "-m", "slow", "-s", "-q", "-n", "0", "-p", "no:randomly", "-p", "no:logging"]
        log = open(out / f"worker-{w}.log", "w")
        proc = subprocess.Popen(
            [sys.executable, *args, "tests/model/test_model_based.py::test_soak"],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        runs.append((w, share, first_seed + w, proc, log))
    failed = []
    for w, share, seed, proc, log in runs:
        if proc.wait() != 0:
            failed.append((w, share, seed))
        log.close()
    seconds = time.monotonic() - started
    total_steps, injected, reached = 0, Counter[str](), Counter[str]()
    for w, *_ in runs:
        report = out / f"worker-{w}.json"
        if report.exists():
            doc = json.loads(report.read_text())
            total_steps += doc["steps"]
            injected.update(doc["injected"])
            reached.update(doc["reached"])
            print(f"  worker {w}: seed {doc['seed']}, {doc['steps']} steps in {doc['seconds']:.0f} s")
    rate = total_steps / seconds if seconds else 0.0
    print(f"soak: {total_steps} steps in {seconds:.0f} s: {rate:.2f} steps/s on {workers} workers")
    met = total_steps >= GOAL_STEPS and seconds <= GOAL_SECONDS and not failed
    print(
        f"  goal: >= {GOAL_STEPS} faulted steps clean in <= {GOAL_SECONDS // 60} min: {'met' if met else 'NOT met'}"
        " (a story stops early at times: 70 stories of up to 100 steps average about 5,500)"
    )
    print(f"  injected faults: {sum(injected.values())} {dict(sorted(injected.items()))}")
    for what, n in sorted(reached.items()):
        print(f"  {what:45} {n}")
    for w, share, seed in failed:
        text = (out / f"worker-{w}.log").read_text(errors="replace").splitlines()
        story = [line for line in text if not line.startswith('{"level"')]
        print(f"\nworker {w} FAILED (seed {seed}); its story and error:\n" + "\n".join(story[-120:]))
        print(
            f"\nreplay it: MODEL_SEED={seed} MODEL_EXAMPLES={share} MODEL_STEPS={steps} SOAK_WORKERS=1 make soak\n"
            'or the shrunk story alone: MODEL_REPRODUCE="<version> <blob>" (from @reproduce_failure above) '
            f"MODEL_EXAMPLES=1 MODEL_STEPS={steps} SOAK_WORKERS=1 make soak"
        )
    return 1 if failed or not runs else 0


if __name__ == "__main__":
    sys.exit(main())
