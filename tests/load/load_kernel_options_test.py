#!/usr/bin/python3
"""herald-load against herald with each kernel-path option (docs/KERNEL_BYPASS.md): --sqpoll under
a throughput load of 1,000 connections (sendmsg batches every pass: the SQ thread must have taken
each pass's SQEs before the send arena is reused), forced zero-copy with 16 KiB frames, and
--busy-poll-us. Each run must end with exit 0: nothing lost, duplicated or reordered, no error
frames, no connection closed by the server.

Usage: load_kernel_options_test.py PATH/TO/herald PATH/TO/herald-load
"""
import json
import os
import subprocess
import sys
import tempfile

THR64 = ["--scenario", "throughput", "--conns", "1000", "--groups", "10", "--publishers", "10",
         "--window", "32", "--size", "64"]
THR16K = ["--scenario", "throughput", "--conns", "100", "--groups", "2", "--publishers", "2",
          "--window", "8", "--size", "16384"]
CASES = [
    ("sqpoll, 64 B", ["--sqpoll"], {}, THR64),
    ("zero-copy forced, 16 KiB", ["--zerocopy-threshold", "16KiB"], {"HERALD_ZEROCOPY_KEEP": "1"},
     THR16K),
    ("busy-poll, 64 B", ["--busy-poll-us", "50"], {}, THR64),
]


def main():
    herald_bin, load_bin = sys.argv[1], sys.argv[2]
    failures = []
    for name, flags, env, args in CASES:
        server = subprocess.Popen([herald_bin, "--listen", "127.0.0.1:0", "--workers", "1"] + flags,
                                  stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                                  env=dict(os.environ, **env))
        try:
            port = int(server.stdout.readline().strip().rsplit(":", 1)[1])
            with tempfile.NamedTemporaryFile(suffix=".json") as out:
                p = subprocess.run([load_bin, "--url", f"ws://127.0.0.1:{port}/", "--quiet",
                                    "--server-pid", str(server.pid), "--json", out.name,
                                    "--warmup", "0.5s", "--duration", "2s"] + args,
                                   capture_output=True, text=True, timeout=120)
                r = json.load(open(out.name)) if os.path.getsize(out.name) else {}
        finally:
            server.terminate()
            server.wait(timeout=10)
        bad = [k for k in ("lost", "duplicates", "reorders", "error_frames", "closed_conns")
               if r.get(k, 1) != 0]
        if p.returncode != 0 or bad or server.returncode != 0:
            failures.append(f"{name}: load exit {p.returncode}, herald exit {server.returncode}, "
                            f"nonzero {bad}\n{p.stdout}{p.stderr}")
        else:
            print(f"ok   {name}: {r.get('deliveries_per_s', 0):.0f} deliveries/s")
    for f in failures:
        print("FAIL " + f)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
