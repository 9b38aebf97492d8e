#!/usr/bin/python3
"""The seed scenario over wss:// from three independent clients: Debian's python3-websockets (an
ssl context trusting a test CA), node with Debian's node-ws (trusting the same CA) and headless
Chromium (--ignore-certificate-errors) on a page this script serves.

Usage: tls_clients_test.py PATH/TO/herald
The CA and the server certificate are made by `openssl req` / `openssl x509` in a temporary
directory. A client that is not installed is reported and skipped; exits 77 (ctest: skipped)
only when none of the three could run.
"""
import asyncio
import http.server
import json
import os
import shutil
import signal
import ssl
import subprocess
import sys
import tempfile
import threading

SEED_ADD = '{"cmd":"add_group", "group_id":"123"}'
SEED_SEND = '{"cmd":"send_to_group", "group_id":"123", "message":"C\'est le message"}'
SEED_GOT = "C'est le message"


def openssl(*args, cwd):
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


def make_pki(d):
    """ca.pem (a CA), server.pem / server.key (localhost and 127.0.0.1, signed by it)."""
    openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-keyout", "ca.key", "-out", "ca.pem", "-days", "2", "-subj", "/CN=herald test CA",
            cwd=d)
    openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=localhost", cwd=d)
    with open(os.path.join(d, "ext.cnf"), "w") as f:
        f.write("subjectAltName=DNS:localhost,IP:127.0.0.1\n")
    openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
            "-CAcreateserial", "-out", "server.pem", "-days", "2", "-extfile", "ext.cnf", cwd=d)


def start_herald(binary, d):
    proc = subprocess.Popen([binary, "--workers", "1", "--listen", "127.0.0.1:0",
                             "--tls-cert", os.path.join(d, "server.pem"),
                             "--tls-key", os.path.join(d, "server.key")],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    line = proc.stdout.readline().strip()
    prefix = "herald listening on wss://"
    if not line.startswith(prefix):
        proc.kill()
        raise SystemExit(f"herald did not start: {line!r} {proc.stderr.read()!r}")
    return proc, line[len(prefix):]


async def python_scenario(port, ca):
    import websockets
    context = ssl.create_default_context(cafile=ca)  # verifies the chain and "localhost"
    url = f"wss://localhost:{port}"
    async with websockets.connect(url, ssl=context) as a, \
            websockets.connect(url, ssl=context) as b:
        await a.send(SEED_ADD)
        await a.send(SEED_SEND)
        assert await asyncio.wait_for(a.recv(), 10) == SEED_GOT
        await b.send('{"cmd":"add_group","group_id":123}')
        await asyncio.wait_for(await b.ping(), 10)
        big = "x" * (512 * 1024)
        await a.send(json.dumps({"cmd": "send_to_group", "group_id": "123", "message": big}))
        assert await asyncio.wait_for(a.recv(), 10) == big
        assert await asyncio.wait_for(b.recv(), 10) == big
        await a.close()
        assert a.close_code == 1000, a.close_code
    return "python3-websockets"


NODE_SCRIPT = r"""
const WebSocket = require('ws');
const fs = require('fs');
const ws = new WebSocket(process.argv[1], {ca: fs.readFileSync(process.argv[2])});
const timer = setTimeout(() => { console.log('timeout'); process.exit(1); }, 20000);
ws.on('open', () => { ws.send(process.argv[3]); ws.send(process.argv[4]); });
ws.on('message', (data) => { console.log(data.toString()); clearTimeout(timer); ws.close(1000); });
ws.on('close', (code) => { console.log('close ' + code); process.exit(0); });
ws.on('error', (e) => { console.log('error ' + e.message); process.exit(1); });
"""


def node_scenario(port, ca):
    node = shutil.which("node") or shutil.which("nodejs")
    if node is None:
        return None
    env = dict(os.environ, NODE_PATH="/usr/share/nodejs")  # where Debian's node-ws lives
    if subprocess.run([node, "-e", "require('ws')"], env=env, capture_output=True).returncode:
        return None
    r = subprocess.run([node, "-e", NODE_SCRIPT, f"wss://localhost:{port}", ca, SEED_ADD,
                        SEED_SEND], env=env, capture_output=True, text=True, timeout=60)
    lines = r.stdout.splitlines()
    assert r.returncode == 0 and lines[:2] == [SEED_GOT, "close 1000"], (r.stdout, r.stderr)
    return "node-ws"


PAGE = """<!doctype html><meta charset="utf-8"><title>herald over wss</title>
<script>
const got = [];
const ws = new WebSocket('wss://127.0.0.1:%(port)d');
function report(what) { fetch('/report', {method: 'POST', body: JSON.stringify(what)}); }
ws.onmessage = function (e) { got.push(e.data); report({messages: got}); };
ws.onerror = function () { report({error: 'websocket error'}); };
ws.onopen = function () { ws.send(%(add)s); ws.send(%(send)s); };
</script>
"""


def chromium_scenario(port):
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        return None
    reports = []
    done = threading.Event()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            body = (PAGE % {"port": port, "add": json.dumps(SEED_ADD),
                            "send": json.dumps(SEED_SEND)}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_POST(self):
            reports.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(204)
            self.end_headers()
            done.set()

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    profile = tempfile.mkdtemp(prefix="herald-chromium-")
    chrome = subprocess.Popen(
        [browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
         "--ignore-certificate-errors", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--user-data-dir=" + profile,
         f"http://127.0.0.1:{server.server_address[1]}/"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        done.wait(timeout=90)
    finally:
        chrome.kill()
        chrome.wait()
        server.shutdown()
        shutil.rmtree(profile, ignore_errors=True)
    last = reports[-1] if reports else {}
    assert last.get("messages") == [SEED_GOT], f"the browser reported {reports}"
    return "headless Chromium"


def main():
    d = tempfile.mkdtemp(prefix="herald-wss-")
    try:
        make_pki(d)
        proc, address = start_herald(sys.argv[1], d)
        port = int(address.rsplit(":", 1)[1])
        ran = []
        try:
            ca = os.path.join(d, "ca.pem")
            for name, run in (("python3-websockets", lambda: asyncio.run(python_scenario(port, ca))),
                              ("node-ws", lambda: node_scenario(port, ca)),
                              ("chromium", lambda: chromium_scenario(port))):
                try:
                    import_ok = run()
                except ModuleNotFoundError:
                    import_ok = None
                if import_ok is None:
                    print(f"SKIP: {name} is not installed (scripts/deps test)")
                else:
                    print(f"{import_ok}: the seed scenario over wss:// passed")
                    ran.append(import_ok)
        finally:
            proc.send_signal(signal.SIGTERM)
            code = proc.wait(timeout=10)
        assert code == 0, f"herald exited with {code}: {proc.stderr.read()}"
    finally:
        shutil.rmtree(d, ignore_errors=True)
    if not ran:
        sys.exit(77)


if __name__ == "__main__":
    main()
