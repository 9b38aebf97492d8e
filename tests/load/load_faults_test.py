#!/usr/bin/python3
"""herald-load finds what a faulty server does wrong: planted loss, duplicates, reordering and
ignored joins each show up in its figures and exit status; a correct server shows none.

Usage: load_faults_test.py PATH/TO/herald-load
"""
import sys

from faulty_server import run_load


def run_against(load, faults):
    return run_load(load, faults,
                    ["--conns", "20", "--groups", "2", "--publishers", "2", "--rate", "200",
                     "--warmup", "0.2s", "--duration", "1s", "--drain", "1s",
                     "--confirm-timeout", "2s"], timeout=60)


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
