"""Load on the decision service (issue 15, point 4), bounded in count and time; never asserted in a test.

``python -m bench.serve`` starts ``xueji serve --port 0 --workers N`` in a subprocess on loopback
(evaluation runs in each worker's threads), then

* ``--workers`` uvicorn processes (default: one per core);
* single evaluations: ``--n`` POST /v1/evaluate (default 2,000) from ``--clients`` concurrent httpx
  clients on one asyncio loop, each request timed: evaluations/s, p50 and p99 latency;
* one /v1/batch of ``--batch`` records (default 20,000) streamed both ways (a raw HTTP/1.1 client that
  reads the answer while it sends the body): records/s;
* the CLI on the same records, ``xueji eval --batch FILE --out FILE`` (all cores): records/s, and the
  ratio of the two.

The records are ``bench.records.generate`` (realistic exports), judged on 2025-11-15. Every phase stops
at ``--seconds`` (default 180) whatever it has done. The targets (issue 15: ≥ 1,000 single evaluations/s
at p99 ≤ 50 ms on 2 cores; the batch within 80 % of the CLI's rate) are printed MET / NOT MET.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

from bench.records import DEFAULT_ON, generate

REPO = Path(__file__).resolve().parent.parent
NDJSON = "application/x-ndjson"


def start_server(extra: Sequence[str] = ()) -> tuple[subprocess.Popen[str], str]:
    env = {**os.environ, "PYTHONPATH": str(REPO), "LANG": "C.UTF-8"}
    cmd = [sys.executable, "-m", "engine", "serve", "--port", "0", "--max-batch", "1000000", *extra]
    proc = subprocess.Popen(cmd, cwd=REPO, env=env, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
    assert proc.stderr is not None
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        line = proc.stderr.readline()
        if "listening on " in line:
            return proc, line.split("listening on ")[1].split("/ ")[0].rstrip("/")
        if not line and proc.poll() is not None:
            break
    proc.kill()
    raise SystemExit("the server did not start")


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


async def singles(base: str, records: list[Any], clients: int, seconds: float) -> dict[str, Any]:
    bodies = [json.dumps({"record": r, "on": DEFAULT_ON.isoformat()}, ensure_ascii=False).encode() for r in records]
    latencies: list[float] = []
    errors = 0
    stop = time.monotonic() + seconds
    queue = iter(range(len(bodies)))
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    # TCP_NODELAY: httpx writes a request's headers and body apart, and with Nagle's algorithm the body
    # then waits for the server's delayed ACK (40 ms on Linux) — a client-side delay, not the service's
    nodelay = httpx.AsyncHTTPTransport(limits=limits, socket_options=[(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)])
    async with httpx.AsyncClient(base_url=base, timeout=30, transport=nodelay) as client:
        for body in bodies[: clients * 2]:  # warm up: connections, the server's first requests
            await client.post("/v1/evaluate", content=body, headers={"content-type": "application/json"})

        async def worker() -> None:
            nonlocal errors
            for i in queue:
                if time.monotonic() > stop:
                    return
                t = time.perf_counter()
                r = await client.post("/v1/evaluate", content=bodies[i], headers={"content-type": "application/json"})
                latencies.append(time.perf_counter() - t)
                if r.status_code != 200:
                    errors += 1

        began = time.perf_counter()
        cpu = time.process_time()
        await asyncio.gather(*(worker() for _ in range(clients)))
        wall = time.perf_counter() - began
        client_cpu = time.process_time() - cpu
    return {
        "requests": len(latencies),
        "clients": clients,
        "errors": errors,
        "seconds": wall,
        "per_second": len(latencies) / wall,
        "p50_ms": percentile(latencies, 0.50) * 1000,
        "p99_ms": percentile(latencies, 0.99) * 1000,
        "client_cpu_seconds": client_cpu,
    }


async def batch(base: str, lines: list[bytes], seconds: float, view: str = "full") -> dict[str, Any]:
    """/v1/batch over one connection, the body sent in 64 KiB chunks while the answer is read;
    ``view``: full decisions or the compact lines of ``xueji eval --batch``."""
    parts = urlsplit(base)
    reader, writer = await asyncio.open_connection(parts.hostname, parts.port, limit=1 << 22)
    writer.write(
        (
            f"POST /v1/batch?on={DEFAULT_ON.isoformat()}&view={view} HTTP/1.1\r\nHost: {parts.netloc}\r\n"
            f"Content-Type: {NDJSON}\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
        ).encode()
    )

    def blocks() -> Iterator[bytes]:
        block: list[bytes] = []
        size = 0
        for line in lines:
            block.append(line)
            size += len(line)
            if size >= 1 << 16:
                yield b"".join(block)
                block, size = [], 0
        if block:
            yield b"".join(block)

    async def send() -> None:
        for b in blocks():
            writer.write(b"%x\r\n%s\r\n" % (len(b), b))
            await writer.drain()
        writer.write(b"0\r\n\r\n")
        await writer.drain()

    counts = {"lines": 0, "errors": 0, "bytes": 0}

    async def receive() -> None:
        await reader.readline()
        while (await reader.readline()) not in (b"\r\n", b""):
            pass
        rest = b""
        while True:
            size = int((await reader.readline()).strip() or b"0", 16)
            if size == 0:
                return
            chunk = await reader.readexactly(size)
            await reader.readline()
            counts["bytes"] += size
            rest += chunk
            *whole, rest = rest.split(b"\n")
            counts["lines"] += len(whole)
            counts["errors"] += sum(b'"error"' in w[:40] for w in whole)

    began = time.perf_counter()
    await asyncio.wait_for(asyncio.gather(send(), receive()), seconds)
    wall = time.perf_counter() - began
    writer.close()
    return {
        "records": len(lines),
        "answered": counts["lines"],
        "errors": counts["errors"],
        "seconds": wall,
        "per_second": counts["lines"] / wall,
        "answer_mb": counts["bytes"] / 1e6,
    }


def cli_batch(path: Path, seconds: float, *, full: bool = False) -> dict[str, Any]:
    """``xueji eval --batch`` on the same records (all cores): compact lines, or with ``full`` the
    whole decisions, as the service's two views."""
    out = path.with_suffix(".full.jsonl" if full else ".out.jsonl")
    env = {**os.environ, "PYTHONPATH": str(REPO), "LANG": "C.UTF-8"}
    cmd = [
        sys.executable,
        "-m",
        "engine",
        "eval",
        "--batch",
        str(path),
        "--out",
        str(out),
        "--on",
        DEFAULT_ON.isoformat(),
        *(["--full"] if full else []),
    ]
    began = time.perf_counter()
    proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=seconds)
    wall = time.perf_counter() - began
    with out.open("rb") as f:
        n = sum(1 for _ in f)
    return {
        "records": n,
        "seconds": wall,
        "per_second": n / wall,
        "exit": proc.returncode,
        "jobs": os.cpu_count(),
        "output_mb": out.stat().st_size / 1e6,
    }


def verdict(ok: bool) -> str:
    return "MET" if ok else "NOT MET"


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.serve", description=__doc__.splitlines()[0] if __doc__ else "")
    ap.add_argument("--n", type=int, default=2000, help="single evaluations (default 2000)")
    ap.add_argument("--clients", type=int, default=16, help="concurrent clients (default 16)")
    ap.add_argument("--batch", type=int, default=20_000, help="records in the /v1/batch run (default 20000)")
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="uvicorn workers (default: cores)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--seconds", type=float, default=180.0, help="time cap of each phase (default 180)")
    ap.add_argument("--json", metavar="FILE", help="write every number here")
    args = ap.parse_args(argv)

    records = generate(max(args.n, min(args.batch, 2000)), seed=args.seed, on=DEFAULT_ON)
    proc, base = start_server(["--workers", str(args.workers)])
    result: dict[str, Any] = {
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "processor": platform.processor()},
        "workers": args.workers,
        "load_average_before": os.getloadavg(),
    }
    try:
        print(
            f"server: {base}  uvicorn workers: {args.workers} (evaluation in each one's thread pool)  "
            f"cores: {os.cpu_count()}  load average before: {os.getloadavg()[0]:.1f}"
        )
        single = asyncio.run(singles(base, records[: args.n], args.clients, args.seconds))
        result["single"] = single
        print(
            f"single  {single['requests']} requests, {args.clients} clients: "
            f"{single['per_second']:,.0f} evaluations/s, "
            f"p50 {single['p50_ms']:.1f} ms, p99 {single['p99_ms']:.1f} ms, errors {single['errors']} "
            f"(client CPU {single['client_cpu_seconds']:.1f} s of {single['seconds']:.1f} s)"
        )
        lines = [json.dumps(records[i % len(records)], ensure_ascii=False).encode() + b"\n" for i in range(args.batch)]
        views: dict[str, dict[str, Any]] = {}
        for view in ("compact", "full"):
            served = views[view] = asyncio.run(batch(base, lines, args.seconds, view))
            print(
                f"batch   view={view}: {served['answered']}/{served['records']} records: "
                f"{served['per_second']:,.0f} records/s ({served['seconds']:.1f} s, {served['answer_mb']:.0f} MB out)"
            )
        result["batch"] = views
        health = httpx.get(base + "/healthz", timeout=10).json()
        result["server_healthy_after"] = health["status"] == "ok"
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "records.jsonl"
        path.write_bytes(b"".join(lines))
        clis = {"compact": cli_batch(path, args.seconds), "full": cli_batch(path, args.seconds, full=True)}
    result["cli_batch"] = clis
    ratios = {view: views[view]["per_second"] / clis[view]["per_second"] for view in views}
    for view, cli in clis.items():
        print(
            f"cli     xueji eval --batch{' --full' if view == 'full' else ''} ({cli['jobs']} jobs): "
            f"{cli['per_second']:,.0f} records/s ({cli['seconds']:.1f} s); service/CLI = {ratios[view]:.0%}"
        )
    ratio = min(ratios.values())
    single_ok = single["per_second"] >= 1000 and single["p99_ms"] <= 50
    batch_ok = ratio >= 0.8
    result["targets"] = {
        "single >= 1000/s at p99 <= 50 ms": verdict(single_ok),
        "batch >= 80% of the CLI": verdict(batch_ok),
    }
    print(
        f"target  single ≥ 1,000 evaluations/s at p99 ≤ 50 ms (2 cores): {verdict(single_ok)} "
        f"({single['per_second']:,.0f}/s, p99 {single['p99_ms']:.1f} ms)"
    )
    print(
        f"target  /v1/batch within 80 % of the CLI's batch rate, view for view: {verdict(batch_ok)} "
        f"(compact {ratios['compact']:.0%}, full {ratios['full']:.0%})"
    )
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
