#!/usr/bin/python3
"""herald-load against herald itself: every scenario runs, in one and in several load
processes, with no loss, duplicates or reordering, and the server figures are filled in. The
idle run (2,000 connections in 20 groups, 2 load processes) reports memory per connection from
RSS, PSS and its anonymous part, and confirms its members with a bounded number of probes.

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


def idle_problems(r):
    """What is wrong with an idle run's memory figures and probe count (a list of lines)."""
    problems = []
    rss, pss = r["server_bytes_per_conn"], r["server_pss_bytes_per_conn"]
    anon = r["server_anon_bytes_per_conn"]
    if not rss > 0:
        problems.append("no bytes per connection")
    # PSS divides shared pages among the processes mapping them: at most RSS, give or take
    # the shares of library pages that other processes on the machine map or unmap meanwhile
    # (herald's file pages are a few hundred KiB: under 200 B per connection here). A unit
    # error (kB, pages) would be off by a factor of 1,000 or more.
    if not 0 < pss <= 1.5 * rss + 200:
        problems.append(f"PSS {pss:.0f} B per connection against RSS {rss:.0f}")
    if not 0 < anon <= 1.5 * rss + 200 or not r["server_pss_bytes"] > 0:
        problems.append(f"anonymous {anon:.0f} B per connection, PSS {r['server_pss_bytes']:.0f} B")
    # Every group needs a probe; each member has joined before the confirm phase, so a group
    # needs few more (probing every group every 20 ms would send 20 x confirm time / 20 ms).
    if not r["groups"] <= r["probes_sent"] <= 10 * r["groups"]:
        problems.append(f"probes_sent {r['probes_sent']:.0f} for {r['groups']:.0f} groups")
    return problems


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
                ("idle", ["--scenario", "idle", "--conns", "2000", "--groups", "20",
                          "--publishers", "0", "--procs", "2", "--warmup", "0s",
                          "--duration", "0.5s"]),
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
                if name == "idle":
                    problems += idle_problems(r)
                if name == "churn" and r["cycles"] <= 0:
                    problems.append("no churn cycles")
                if problems:
                    failures.append(f"{label}: {problems}\n{out}")
                else:
                    print(f"{label}: ok, {r['deliveries']:.0f} deliveries, p50 {r['p50_us']:.0f} us, "
                          f"{r['probes_sent']:.0f} probes, {r['server_bytes_per_conn']:.0f} / "
                          f"{r['server_pss_bytes_per_conn']:.0f} / "
                          f"{r['server_anon_bytes_per_conn']:.0f} B per connection (RSS / PSS / "
                          "anonymous)")
        finally:
            server.send_signal(signal.SIGTERM)
            server.wait(timeout=10)
    if failures:
        print("\n".join(failures))
        sys.exit(1)


if __name__ == "__main__":
    main()
