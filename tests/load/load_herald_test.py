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
    # PSS divides shared pages among the processes mapping them, so its change also follows
    # what other processes on the machine map meanwhile (herald-load's own processes map the
    # same libraries: herald's share of them drops by up to a few hundred KiB, which is more
    # than 2,000 connections' heap). Only its presence and scale are checked: a unit error (kB,
    # pages) would be off by a factor of 1,000 or more.
    if pss == -1 or not abs(pss) <= 10 * rss + 2000:
        problems.append(f"PSS {pss:.0f} B per connection against RSS {rss:.0f}")
    # The anonymous part is herald's own memory: every connection adds to it.
    if not 0 < anon <= 10 * rss + 2000 or not r["server_pss_bytes"] > 0:
        problems.append(f"anonymous {anon:.0f} B per connection, PSS {r['server_pss_bytes']:.0f} B")
    # Every group needs a probe, and a leader sends at most one per 20 ms (one in flight). How
    # long the confirm phase takes depends on the machine's load, hence the bound from
    # confirm_s; tests/load/load_probes_test.py bounds the count against a server that delays
    # joins on purpose.
    most = r["groups"] * (r["confirm_s"] / 0.020 + 2)
    if not r["groups"] <= r["probes_sent"] <= most:
        problems.append(f"probes_sent {r['probes_sent']:.0f} for {r['groups']:.0f} groups in "
                        f"{r['confirm_s']:.2f} s")
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
