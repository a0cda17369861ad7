"""`make reset`: a clean local stack for the next walk, without restarting `make run`.

Empties every table and queue of the running stack (`POST /v1/dev/reset`, local stage only),
moves the service clock back to real time and seeds the demo data again.
"""

from __future__ import annotations

import sys

import requests

from chalicelib.local.ports import api_base


def main() -> int:
    base = api_base()  # PORT, as `make run` reads it
    try:
        r = requests.post(f"{base}/v1/dev/reset", timeout=120)
    except requests.ConnectionError:
        print(f"nothing answers on {base}: start `make run` first (with the same PORT)", file=sys.stderr)
        return 1
    if r.status_code != 200:
        print(f"reset failed: {r.status_code} {r.text}", file=sys.stderr)
        return 1
    body = r.json()
    print(f"clean stack on {base}; clock {body['now']}")
    for line in body["seeded"]:
        print(f"  {line}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
