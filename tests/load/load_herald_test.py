#!/usr/bin/python3
"""herald-load against herald itself: every scenario runs, in one and in several load
processes, with no loss, duplicates or reordering, and the server figures are filled in.

Usage: load_herald_test.py PATH/TO/herald PATH/TO/herald-load
"""
import json
import os
import signal
import subprocess
import sys
import tempfile


def start_herald(binary, workers):
    proc = subprocess.Popen([binary, "--listen", "127.0.0.1:0", "--workers", str(workers)],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    line = proc.stdout.readline().strip()
    return proc, int(line.rsplit(":", 1)[1])


def load(binary, port, pid, *args):
    with tempfile.NamedTemporaryFile(suffix=".json") as out:
        proc = subprocess.run([binary, "--url", f"ws://127.0.0.1:{port}/", "--quiet",
                               "--server-pid", str(pid), "--json", out.name, *args],
                              capture_output=True, text=True, timeout=120)
        results = json.load(open(out.name)) if os.path.getsize(out.name) else None
    return proc.returncode, results, proc.stdout + proc.stderr


def main():
    herald_bin, load_bin = sys.argv[1], sys.argv[2]
    failures = []
    for workers in (1, 2):
        server, port = start_herald(herald_bin, workers)
        try:
            cases = [
                ("latency", ["--scenario", "latency", "--conns", "300", "--groups", "3",
                             "--publishers", "3", "--rate", "300", "--warmup", "0.3s",
                             "--duration", "1s"]),
                ("latency, 2 procs", ["--scenario", "latency", "--conns", "300", "--groups", "3",
                                      "--publishers", "6", "--rate", "300", "--procs", "2",
                                      "--warmup", "0.3s", "--duration", "1s"]),
                ("throughput", ["--scenario", "throughput", "--conns", "100", "--groups", "2",
                                "--publishers", "2", "--window", "8", "--warmup", "0.3s",
                                "--duration", "1s"]),
                ("idle", ["--scenario", "idle", "--conns", "500", "--groups", "5",
                          "--publishers", "0", "--warmup", "0s", "--duration", "0.5s"]),
                ("churn", ["--scenario", "churn", "--conns", "1", "--groups", "1",
                           "--publishers", "0", "--rate", "200", "--warmup", "0.2s",
                           "--duration", "1s"]),
            ]
            for name, args in cases:
                if name == "idle":
                    # Memory per connection is measured against the server's footprint before
                    # connecting: it needs a server that has served nothing yet.
                    server.send_signal(signal.SIGTERM)
                    server.wait(timeout=10)
                    server, port = start_herald(herald_bin, workers)
                code, r, out = load(load_bin, port, server.pid, *args)
                label = f"{name} (workers {workers})"
                if code != 0 or r is None:
                    failures.append(f"{label}: exit {code}\n{out}")
                    continue
                problems = [k for k in ("lost", "duplicates", "reorders", "error_frames",
                                        "failed_conns", "closed_conns") if r[k]]
                if name.startswith(("latency", "throughput")):
                    if r["deliveries"] <= 0 or r["p50_us"] <= 0 or r["server_us_per_delivery"] <= 0:
                        problems.append("no deliveries or figures")
                if name == "idle" and not r["server_bytes_per_conn"] > 0:
                    problems.append("no bytes per connection")
                if name == "churn" and r["cycles"] <= 0:
                    problems.append("no churn cycles")
                if problems:
                    failures.append(f"{label}: {problems}\n{out}")
                else:
                    print(f"{label}: ok, {r['deliveries']:.0f} deliveries, p50 {r['p50_us']:.0f} us")
        finally:
            server.send_signal(signal.SIGTERM)
            server.wait(timeout=10)
    if failures:
        print("\n".join(failures))
        sys.exit(1)


if __name__ == "__main__":
    main()
