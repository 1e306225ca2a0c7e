"""Load benchmark of `python -m spacy_mtl serve`: concurrent clients against a server on 127.0.0.1.

Starts the server as a subprocess on a free port, waits for /health, warms it up,
then runs CLIENTS concurrent clients (asyncio, httpx), each sending REQUESTS
POST /parse requests one after the other, with texts taken in turn from a file.
The loop is bounded: every client stops after its requests, and the whole run
stops after --timeout seconds. It prints a table (requests, errors, requests/s,
latency percentiles) and writes the results as JSON. Client and server share the
machine's cores: the numbers are for that set-up.

With --new-words N every request's text also carries N random words never sent
before, and the server's resident memory is read before and after the clients
(/proc, Linux): the strings a request adds to the vocabulary are freed after it
(spaCy memory zones, spacy_mtl.serve.zones), so it should stay flat.

Usage:
    python benchmarks/bench_serve.py training/model-best --clients 50 --requests 200 \
        --texts data/demo/test/seq.in --out benchmarks/reports/serve_load.json
    python benchmarks/bench_serve.py training/model-best --clients 20 --requests 300 \
        --new-words 100 --texts data/demo/test/seq.in --out benchmarks/reports/serve_words.json
"""

import argparse
import asyncio
import os
import platform
import random
import socket
import string
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Dict, List, Optional

import httpx
import srsly
from wasabi import msg


def main(argv: Optional[List[str]] = None) -> int:
    """Parse the arguments, start the server, run the clients, report.

    argv (Optional[List[str]]): The arguments; None reads sys.argv.
    RETURNS (int): The exit status: 0 if every request got a 200 with a record.
    """
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("pipeline", help="the pipeline to serve")
    parser.add_argument("--clients", type=int, default=50, help="concurrent clients")
    parser.add_argument("--requests", type=int, default=200, help="requests per client")
    parser.add_argument("--texts", type=Path, required=True, help="text file, one text per line")
    parser.add_argument("--workers", type=int, default=2, help="the server's --workers")
    parser.add_argument("--timeout", type=float, default=900, help="stop the run after this (s)")
    parser.add_argument("--out", type=Path, required=True, help="JSON file to write")
    parser.add_argument(
        "--new-words", type=int, default=0, help="random unseen words added to each request's text"
    )
    args = parser.parse_args(argv)
    texts = [line.strip() for line in args.texts.read_text("utf8").splitlines() if line.strip()]
    if not texts:
        msg.fail(f"{args.texts} holds no texts.", exits=1)

    port = free_port()
    command = [sys.executable, "-m", "spacy_mtl", "serve", args.pipeline, "--port", str(port)]
    command += ["--workers", str(args.workers), "--log-level", "warning"]
    load_before = os.getloadavg()
    server = subprocess.Popen(command)
    try:
        url = f"http://127.0.0.1:{port}"
        wait_for_health(url, server)
        rss_before = server_rss_mb(server.pid)
        clients = run_clients(url, texts, args.clients, args.requests, args.new_words)
        result = asyncio.run(asyncio.wait_for(clients, args.timeout))
        result["server_rss_mb"] = {"before": rss_before, "after": server_rss_mb(server.pid)}
    finally:
        server.terminate()
        server.wait(timeout=30)
    result.update(
        pipeline=args.pipeline,
        workers=args.workers,
        new_words=args.new_words,
        texts=str(args.texts),
        command=" ".join(["python", "benchmarks/bench_serve.py"] + sys.argv[1:]),
        machine={
            "cpus": os.cpu_count(),
            # Other processes share these cores: the 1-minute load before and after the run.
            "load_average_1min": [load_before[0], os.getloadavg()[0]],
            "python": platform.python_version(),
            "platform": platform.platform(),
        },
    )
    print_table(result)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    tmp = args.out.with_name(args.out.name + ".tmp")
    srsly.write_json(tmp, result)
    tmp.replace(args.out)
    msg.good(f"Saved results to {args.out}")
    return 0 if result["errors"] == 0 else 1


async def run_clients(
    url: str, texts: List[str], n_clients: int, n_requests: int, new_words: int = 0
) -> dict:
    """Run the clients and gather their latencies and errors.

    url (str): The server's base URL.
    texts (List[str]): The texts to send, in turn.
    n_clients (int): Concurrent clients.
    n_requests (int): Requests per client.
    new_words (int): Random unseen words appended to each text.
    RETURNS (dict): Counts, duration, requests/s and latency percentiles in ms.
    """
    rng = random.Random(0)
    limits = httpx.Limits(max_connections=n_clients, max_keepalive_connections=n_clients)
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=60) as client:
        for text in texts[:20]:
            (await client.post("/parse", json={"text": text})).raise_for_status()
        latencies: List[float] = []
        errors: List[str] = []

        async def one_client(index: int) -> None:
            for i in range(n_requests):
                text = texts[(index * n_requests + i) % len(texts)]
                if new_words:
                    words = (
                        "".join(rng.choices(string.ascii_lowercase, k=10)) for _ in range(new_words)
                    )
                    text = f"{text} {' '.join(words)}"
                start = time.perf_counter()
                try:
                    response = await client.post("/parse", json={"text": text})
                    ok = response.status_code == 200 and response.json()["text"] == text
                    if not ok:
                        errors.append(f"{response.status_code}: {response.text[:200]}")
                except httpx.HTTPError as err:
                    errors.append(repr(err))
                latencies.append(time.perf_counter() - start)

        start = time.perf_counter()
        await asyncio.gather(*(one_client(i) for i in range(n_clients)))
        duration = time.perf_counter() - start
    latencies.sort()
    return {
        "clients": n_clients,
        "requests_per_client": n_requests,
        "requests": len(latencies),
        "errors": len(errors),
        "error_examples": errors[:5],
        "duration_s": duration,
        "requests_per_s": len(latencies) / duration,
        "latency_ms": {
            "mean": 1000 * sum(latencies) / len(latencies),
            "p50": 1000 * percentile(latencies, 50),
            "p90": 1000 * percentile(latencies, 90),
            "p99": 1000 * percentile(latencies, 99),
            "max": 1000 * latencies[-1],
        },
    }


def percentile(values: List[float], q: float) -> float:
    """The q-th percentile of sorted values (nearest rank)."""
    rank = max(1, round(q / 100 * len(values)))
    return values[min(rank, len(values)) - 1]


def server_rss_mb(pid: int) -> Optional[float]:
    """The resident memory of a process in MB (Linux /proc), or None where unknown."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    for line in status.splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return None


def print_table(result: Dict[str, Any]) -> None:
    latency = result["latency_ms"]
    load = result["machine"]["load_average_1min"]
    rows = [
        ("clients x requests", f"{result['clients']} x {result['requests_per_client']}"),
        ("requests", result["requests"]),
        ("errors", result["errors"]),
        ("duration (s)", f"{result['duration_s']:.1f}"),
        ("requests/s", f"{result['requests_per_s']:.0f}"),
        ("latency p50 (ms)", f"{latency['p50']:.1f}"),
        ("latency p90 (ms)", f"{latency['p90']:.1f}"),
        ("latency p99 (ms)", f"{latency['p99']:.1f}"),
        ("latency max (ms)", f"{latency['max']:.1f}"),
        ("machine load before/after", "{:.1f} / {:.1f}".format(*load)),
    ]
    rss = result.get("server_rss_mb") or {}
    if rss.get("before") is not None and rss.get("after") is not None:
        rows.append(("server RSS before/after (MB)", f"{rss['before']:.0f} / {rss['after']:.0f}"))
    msg.divider(f"POST /parse load test, {result['pipeline']}, {result['workers']} workers")
    msg.table(rows, aligns=["l", "r"], divider=False)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_health(url: str, server: subprocess.Popen, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            msg.fail(f"The server exited with {server.returncode} before it answered.", exits=1)
        try:
            if httpx.get(f"{url}/health", timeout=5).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    msg.fail(f"The server did not answer {url}/health within {timeout:.0f} s.", exits=1)


if __name__ == "__main__":
    sys.exit(main())
