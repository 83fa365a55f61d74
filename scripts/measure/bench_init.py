"""Cold init of Lambda binaries: process start -> the first Runtime API poll, N runs each
(default 30), binaries alternating so that both see the same machine. Compare two builds:

    cargo build --release -p orders-api && cp target/release/orders-api /tmp/after
    python3 scripts/measure/bench_init.py /tmp/before /tmp/after /tmp/before /tmp/after

A stub Runtime API on a free port answers nothing, so the time ends at the first poll."""

import http.server
import os
import statistics
import subprocess
import sys
import threading
import time

first = threading.Event()


class RuntimeApi(http.server.BaseHTTPRequestHandler):
    def do_GET(self):  # the function's first poll for work
        first.set()
        time.sleep(5)

    def log_message(self, format, *args):  # quiet
        pass


def main() -> None:
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), RuntimeApi)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    env = dict(
        os.environ,
        AWS_LAMBDA_RUNTIME_API=f"127.0.0.1:{srv.server_port}",
        AWS_LAMBDA_FUNCTION_NAME="f",
        AWS_LAMBDA_FUNCTION_MEMORY_SIZE="256",
        AWS_LAMBDA_FUNCTION_VERSION="1",
        AWS_REGION="us-east-1",
        AWS_ACCESS_KEY_ID="x",
        AWS_SECRET_ACCESS_KEY="y",
        ORDERS_TABLE="t",
        PRODUCTS_TABLE="p",
        ORDER_EVENTS_TOPIC_ARN="arn:aws:sns:us-east-1:0:t",
        AWS_ENDPOINT_URL="http://127.0.0.1:1",
    )
    for binary in sys.argv[1:]:
        ts = []
        for _ in range(int(os.environ.get("N", "30"))):
            first.clear()
            t0 = time.perf_counter()
            p = subprocess.Popen([binary], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            first.wait(10)
            ts.append((time.perf_counter() - t0) * 1000)
            p.kill()
            p.wait()
        ts.sort()
        print(
            f"{os.path.basename(binary):22s} init p50 {statistics.median(ts):6.1f} ms  "
            f"p90 {ts[int(len(ts) * 0.9)]:6.1f} ms  size {os.path.getsize(binary) / 1e6:5.2f} MB"
        )


if __name__ == "__main__":
    main()
