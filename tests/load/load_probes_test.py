#!/usr/bin/python3
"""herald-load's confirm phase probes only groups that still have an unconfirmed member, in any
load process, and each leader keeps at most one probe of its own out: when one group's joins
take long, the other groups send next to nothing, and members that die unconfirmed stop their
group's probes.

Every case runs herald-load (idle, 2 load processes, --source-ips) against faulty_server.py,
whose joins to one group ("the slow group") take effect only DELAY seconds after that group's
first probe: the confirm phase lasts at least DELAY and the slow group needs more than one
probe. Probing every group every 20 ms while any member anywhere is unconfirmed (the old way)
sends about GROUPS x DELAY / 20 ms probes (3,000 and 300 here). Each bound allows every group
ROUNDS probes, plus what the slow groups may send while they really have unconfirmed members
(one probe per 20 ms, or per 500 ms while the leader's own probe does not come back). They are
upper bounds whatever the machine's load (a loaded machine sends fewer probes, not more: a
leader waits for its own probe), and a run must send more than one probe per group.

  slow members in the other process: only load process 1's joins to load-3 are delayed (it
  connects from 127.0.0.3), so load-3's leader, in process 0, is confirmed at once and keeps
  probing only because of process 1's members (a count per process would stop it: exit 3).
  members closed before confirming: every 20th join is ignored and that connection closed 0.2 s
  after its group's first probe; a dead member must leave its group's count, or the group goes
  on probing every 20 ms for the whole DELAY (about 8 groups x 140 probes more).
  a leader whose probes do not come back: 2 groups, load-1's joins (its leader's too) delayed:
  the leader sends one probe per 500 ms timeout, not one per 20 ms (150).

Usage: load_probes_test.py PATH/TO/herald-load
"""
import sys

from faulty_server import run_load

DELAY = 3.0
# Probes a group may need beyond its slow period: a member's join or its reading of a probe may
# lag the leader's, so a leader whose probe came back may find its group not done 20 ms later.
ROUNDS = 10


def run_against(load, faults, conns, groups):
    return run_load(load, faults,
                    ["--scenario", "idle", "--conns", str(conns), "--groups", str(groups),
                     "--publishers", "0", "--procs", "2", "--source-ips", "--warmup", "0s",
                     "--duration", "0.2s", "--confirm-timeout", "30s"], timeout=90, server_pid=True)


def main():
    load = sys.argv[1]
    failures = []
    every, close_after = 20, 0.2
    ignored = 200 // every
    # (name, faults, conns, groups, most probes, fewest and most connections open at the end)
    cases = [
        ("slow members in the other process",
         ["--delay-join", f"load-3:{DELAY}", "--delay-peer", "127.0.0.3"],
         200, 20, 20 * ROUNDS + DELAY / 0.02, (200, 200)),
        ("members closed before confirming",
         ["--delay-join", f"load-3:{DELAY}", "--ignore-joins", str(every),
          "--close-ignored", str(close_after)],
         200, 20, 20 * ROUNDS + DELAY / 0.5 + ignored * (close_after / 0.02 + ROUNDS),
         (200 - ignored, 199)),  # at least one member died (leaders are spared)
        ("a leader whose probes do not come back",
         ["--delay-join", f"load-1:{DELAY}"],
         20, 2, 2 * ROUNDS + DELAY / 0.5, (20, 20)),
    ]
    for name, faults, conns, groups, bound, (open_lo, open_hi) in cases:
        code, r, out = run_against(load, faults, conns, groups)
        if code != 0 or r is None:
            failures.append(f"{name}: exit {code}\n{out}")
            continue
        probes = r["probes_sent"]
        problems = []
        if not groups < probes <= bound:
            problems.append(f"probes_sent {probes:.0f} not in ({groups}, {bound:.0f}]")
        if not open_lo <= r["conns_open"] <= open_hi:
            problems.append(f"conns_open {r['conns_open']:.0f} not in [{open_lo}, {open_hi}]")
        if r["unconfirmed"] != 0:
            problems.append(f"unconfirmed {r['unconfirmed']:.0f}")
        if problems:
            failures.append(f"{name}: {problems}\n{out}")
        else:
            print(f"{name}: {probes:.0f} probes (bound {bound:.0f}) in {r['confirm_s']:.2f} s, "
                  f"{r['conns_open']:.0f} open")
    if failures:
        print("\n\n".join(failures))
        sys.exit(1)


if __name__ == "__main__":
    main()
