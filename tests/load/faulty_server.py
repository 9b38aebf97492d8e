#!/usr/bin/python3
"""A deliberately faulty group server for testing herald-load (Debian's python3-websockets).

Speaks the herald protocol (add_group, send_to_group) on 127.0.0.1, port chosen by the kernel
(printed as "listening on PORT"), and plants one kind of fault:
  --drop N        drops every Nth delivery
  --duplicate N   sends every Nth delivery twice
  --reorder N     swaps every Nth delivery with the next one to the same connection
  --ignore-joins N  ignores every Nth add_group (that connection never becomes a member)
No flag: a correct server. Slow or dying members, to test herald-load's confirm phase:
  --delay-join GROUP:SECONDS  an add_group to GROUP takes effect only SECONDS after the first
                    send_to_group to GROUP (herald-load's first probe): no probe before then
                    reaches it, however long the connects took
  --delay-peer IP   ... only from this client address (herald-load --source-ips: 127.0.0.(2+k))
  --close-ignored SECONDS  with --ignore-joins: SECONDS after the first send_to_group to a group,
                    close the connections whose join to it was ignored; a connection that sends
                    to the group itself (herald-load's leader, which probes) is joined instead

The tests import run_load() from here: it starts this server and runs herald-load against it.
"""
import argparse
import asyncio
import json
import os
import subprocess
import tempfile

import websockets


def run_load(load, faults, load_args, timeout, server_pid=False):
    """Starts this server with `faults` (flags), runs herald-load `load` against it with
    `load_args` (besides --url, --quiet and --json; --server-pid too when `server_pid`) and
    returns (exit status, results JSON or None, output)."""
    server = subprocess.Popen(["/usr/bin/python3", os.path.abspath(__file__)] + faults,
                              stdout=subprocess.PIPE, text=True)
    try:
        port = int(server.stdout.readline().split()[-1])
        with tempfile.NamedTemporaryFile(suffix=".json") as out:
            proc = subprocess.run(
                [load, "--url", f"ws://127.0.0.1:{port}/"] + load_args +
                (["--server-pid", str(server.pid)] if server_pid else []) +
                ["--quiet", "--json", out.name],
                capture_output=True, text=True, timeout=timeout)
            results = json.load(open(out.name)) if os.path.getsize(out.name) > 0 else None
        return proc.returncode, results, proc.stdout + proc.stderr
    finally:
        server.kill()
        server.wait()


class Faults:
    def __init__(self, args):
        self.args = args
        self.deliveries = 0
        self.joins = 0
        self.held = {}  # connection -> message held back for reordering
        self.probed = set()  # groups that got a send_to_group (--close-ignored)

    def every(self, n, count):
        return n > 0 and count % n == 0


async def main():
    parser = argparse.ArgumentParser()
    for flag in ("drop", "duplicate", "reorder", "ignore-joins"):
        parser.add_argument("--" + flag, type=int, default=0)
    parser.add_argument("--delay-join", default="")
    parser.add_argument("--delay-peer", default="")
    parser.add_argument("--close-ignored", type=float, default=0)
    args = parser.parse_args()
    faults = Faults(args)
    groups = {}
    delayed_group, _, delay = args.delay_join.rpartition(":")
    delayed = {"release": None, "queue": []}  # --delay-join: when the joins take effect
    ignored = {}  # group -> connections whose join to it was ignored (--close-ignored)
    loop = asyncio.get_running_loop()

    def join(ws, group, joined):
        def add():
            if not ws.closed:
                groups.setdefault(group, set()).add(ws)
                joined.add(group)
        if group != delayed_group or args.delay_peer not in ("", ws.remote_address[0]):
            add()
        elif delayed["release"] is None:
            delayed["queue"].append(add)
        else:
            loop.call_at(max(delayed["release"], loop.time()), add)

    def first_send(group):  # starts the delay of --delay-join
        if group == delayed_group and delayed["release"] is None:
            delayed["release"] = loop.time() + float(delay)
            for add in delayed["queue"]:
                loop.call_at(delayed["release"], add)

    def close_ignored(group):
        for ws in ignored.pop(group, ()):
            asyncio.ensure_future(ws.close())

    async def deliver(ws, message):
        faults.deliveries += 1
        n = faults.deliveries
        if faults.every(args.drop, n):
            return
        if faults.every(args.reorder, n) and ws not in faults.held:
            faults.held[ws] = message
            return
        try:
            await ws.send(message)
            if faults.every(args.duplicate, n):
                await ws.send(message)
            held = faults.held.pop(ws, None)
            if held is not None:
                await ws.send(held)
        except websockets.exceptions.ConnectionClosed:
            pass  # a member that just went away; the sender carries on

    async def handler(ws):
        joined = set()
        try:
            async for text in ws:
                cmd = json.loads(text)
                group = str(cmd["group_id"])
                if cmd["cmd"] == "add_group":
                    faults.joins += 1
                    if faults.every(args.ignore_joins, faults.joins):
                        if args.close_ignored > 0:
                            ignored.setdefault(group, set()).add(ws)
                        continue
                    join(ws, group, joined)
                elif cmd["cmd"] == "send_to_group":
                    first_send(group)
                    if args.close_ignored > 0 and group not in faults.probed:
                        faults.probed.add(group)
                        loop.call_later(args.close_ignored, close_ignored, group)
                    if ws in ignored.get(group, ()):  # a leader: spared, joined after all
                        ignored[group].discard(ws)
                        join(ws, group, joined)
                    for member in list(groups.get(group, ())):
                        await deliver(member, cmd["message"])
        except websockets.exceptions.ConnectionClosed:
            pass  # the load tool may just close its sockets
        finally:
            for group in joined:
                groups.get(group, set()).discard(ws)

    async with websockets.serve(handler, "127.0.0.1", 0, max_size=None) as server:
        port = server.sockets[0].getsockname()[1]
        print(f"listening on {port}", flush=True)
        await asyncio.Future()


if __name__ == "__main__":
    asyncio.run(main())
