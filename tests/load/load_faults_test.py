#!/usr/bin/python3
"""herald-load finds what a faulty server does wrong: planted loss, duplicates, reordering and
ignored joins each show up in its figures and exit status; a correct server shows none.

Usage: load_faults_test.py PATH/TO/herald-load
"""
import json
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))


def run_against(load, faults):
    server = subprocess.Popen(["/usr/bin/python3", os.path.join(HERE, "faulty_server.py")] + faults,
                              stdout=subprocess.PIPE, text=True)
    try:
        port = int(server.stdout.readline().split()[-1])
        with tempfile.NamedTemporaryFile(suffix=".json") as out:
            proc = subprocess.run(
                [load, "--url", f"ws://127.0.0.1:{port}/", "--conns", "20", "--groups", "2",
                 "--publishers", "2", "--rate", "200", "--warmup", "0.2s", "--duration", "1s",
                 "--drain", "1s", "--confirm-timeout", "2s", "--quiet", "--json", out.name],
                capture_output=True, text=True, timeout=60)
            results = json.load(open(out.name)) if os.path.getsize(out.name) > 0 else None
        return proc.returncode, results, proc.stdout + proc.stderr
    finally:
        server.kill()
        server.wait()


def main():
    load = sys.argv[1]
    failures = []

    code, r, out = run_against(load, [])
    if code != 0 or r["lost"] or r["duplicates"] or r["reorders"] or r["deliveries"] == 0:
        failures.append(f"correct server: exit {code}, {r}\n{out}")

    for flag, field in (("--drop", "lost"), ("--duplicate", "duplicates"), ("--reorder", "reorders")):
        code, r, out = run_against(load, [flag, "7"])
        if code != 1 or r is None or r[field] == 0:
            failures.append(f"{flag} 7: expected exit 1 and {field} > 0, got exit {code}, {r}\n{out}")
        else:
            print(f"{flag} 7 -> {field} = {r[field]:.0f}")

    code, r, out = run_against(load, ["--ignore-joins", "5"])
    if code != 3 or "ignored their joins" not in out:
        failures.append(f"--ignore-joins 5: expected exit 3 naming ignored joins, got {code}\n{out}")
    else:
        print("--ignore-joins 5 -> exit 3:", out.strip().splitlines()[-1])

    if failures:
        print("\n\n".join(failures))
        sys.exit(1)
    print("herald-load found every planted fault")


if __name__ == "__main__":
    main()
