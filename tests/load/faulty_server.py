#!/usr/bin/python3
"""A deliberately faulty group server for testing herald-load (Debian's python3-websockets).

Speaks the herald protocol (add_group, send_to_group) on 127.0.0.1, port chosen by the kernel
(printed as "listening on PORT"), and plants one kind of fault:
  --drop N        drops every Nth delivery
  --duplicate N   sends every Nth delivery twice
  --reorder N     swaps every Nth delivery with the next one to the same connection
  --ignore-joins N  ignores every Nth add_group (that connection never becomes a member)
No flag: a correct server.
"""
import argparse
import asyncio
import json

import websockets


class Faults:
    def __init__(self, args):
        self.args = args
        self.deliveries = 0
        self.joins = 0
        self.held = {}  # connection -> message held back for reordering

    def every(self, n, count):
        return n > 0 and count % n == 0


async def main():
    parser = argparse.ArgumentParser()
    for flag in ("drop", "duplicate", "reorder", "ignore-joins"):
        parser.add_argument("--" + flag, type=int, default=0)
    args = parser.parse_args()
    faults = Faults(args)
    groups = {}

    async def deliver(ws, message):
        faults.deliveries += 1
        n = faults.deliveries
        if faults.every(args.drop, n):
            return
        if faults.every(args.reorder, n) and ws not in faults.held:
            faults.held[ws] = message
            return
        await ws.send(message)
        if faults.every(args.duplicate, n):
            await ws.send(message)
        held = faults.held.pop(ws, None)
        if held is not None:
            await ws.send(held)

    async def handler(ws):
        joined = set()
        try:
            async for text in ws:
                cmd = json.loads(text)
                group = str(cmd["group_id"])
                if cmd["cmd"] == "add_group":
                    faults.joins += 1
                    if faults.every(args.ignore_joins, faults.joins):
                        continue
                    groups.setdefault(group, set()).add(ws)
                    joined.add(group)
                elif cmd["cmd"] == "send_to_group":
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
