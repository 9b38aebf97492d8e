#!/usr/bin/python3
"""herald against an independent client: Debian's python3-websockets (RFC 6455 client).

Usage: python_client_test.py PATH/TO/herald
Starts herald on an ephemeral port, runs the seed's scenario and a few protocol checks through
the websockets library, then stops herald with SIGTERM and checks it exits 0.
"""
import asyncio
import json
import signal
import subprocess
import sys

import websockets


def start_herald(binary):
    proc = subprocess.Popen([binary, "--listen", "127.0.0.1:0"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    line = proc.stdout.readline().strip()
    prefix = "herald listening on ws://"
    if not line.startswith(prefix):
        proc.kill()
        raise SystemExit(f"herald did not start: {line!r} {proc.stderr.read()!r}")
    return proc, line[len(prefix):]


async def scenario(address):
    url = f"ws://{address}"
    async with websockets.connect(url) as a, websockets.connect(url) as b:
        # The seed's scenario, byte for byte.
        await a.send('{"cmd":"add_group", "group_id":"123"}')
        await a.send('{"cmd":"send_to_group", "group_id":"123", "message":"C\'est le message"}')
        assert await asyncio.wait_for(a.recv(), 5) == "C'est le message"

        # 123 and "123" are one group; unicode survives; the publisher need not be a member.
        await b.send('{"cmd":"add_group","group_id":123}')
        await asyncio.wait_for(await b.ping(), 5)  # the join is applied before the pong
        await a.send(json.dumps({"cmd": "send_to_group", "group_id": "123", "message": "héllo ☃ 😀"}))
        assert await asyncio.wait_for(a.recv(), 5) == "héllo ☃ 😀"
        assert await asyncio.wait_for(b.recv(), 5) == "héllo ☃ 😀"

        # A failed command gets one error frame and the connection stays open.
        await b.send("this is not json")
        error = json.loads(await asyncio.wait_for(b.recv(), 5))
        assert error["error"] == "invalid_json" and error["detail"], error
        await b.send(b"\x00binary")
        error = json.loads(await asyncio.wait_for(b.recv(), 5))
        assert error["error"] == "binary_unsupported", error

        # A large message (512 KiB) makes the round trip intact.
        big = "x" * (512 * 1024)
        await a.send(json.dumps({"cmd": "send_to_group", "group_id": "123", "message": big}))
        assert await asyncio.wait_for(a.recv(), 5) == big
        assert await asyncio.wait_for(b.recv(), 5) == big

        # Over --max-message (1 MiB): closed with 1009.
        await b.send("y" * (1024 * 1024 + 1))
        try:
            await asyncio.wait_for(b.recv(), 5)
            raise AssertionError("expected the connection to be closed")
        except websockets.exceptions.ConnectionClosed as closed:
            assert closed.code == 1009, closed.code

        await a.close()
        assert a.close_code == 1000, a.close_code


def main():
    proc, address = start_herald(sys.argv[1])
    try:
        asyncio.run(scenario(address))
    finally:
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=5)
    assert code == 0, f"herald exited with {code}"
    print("python3-websockets scenario passed against", address)


if __name__ == "__main__":
    main()
