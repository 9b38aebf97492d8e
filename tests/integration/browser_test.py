#!/usr/bin/python3
"""The seed's browser scenario in headless Chromium (Debian's chromium package).

Usage: browser_test.py PATH/TO/herald
Serves a page that opens ws://127.0.0.1:PORT, sends the seed's add_group and send_to_group on
open and reports what came back to this script; passes when the browser got the message.
Exits 77 (ctest: skipped) when chromium is not installed.
"""
import http.server
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading

PAGE = """<!doctype html><meta charset="utf-8"><title>herald seed scenario</title>
<script>
const got = [];
const ws = new WebSocket('ws://%(address)s');
function report(what) {
  fetch('/report', {method: 'POST', body: JSON.stringify(what)});
}
ws.onmessage = function (e) { console.log(e.data); got.push(e.data); report({messages: got}); };
ws.onerror = function () { report({error: 'websocket error'}); };
ws.onopen = function () {
  ws.send('{"cmd":"add_group", "group_id":"123"}');
  ws.send('{"cmd":"send_to_group", "group_id":"123", "message":"C\\'est le message"}');
};
</script>
"""


def main():
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        print("SKIP: chromium is not installed (apt-get install chromium)")
        sys.exit(77)
    herald = subprocess.Popen([sys.argv[1], "--listen", "127.0.0.1:0"], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)
    line = herald.stdout.readline().strip()
    address = line.removeprefix("herald listening on ws://")
    reports = []
    got_message = threading.Event()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            body = (PAGE % {"address": address}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_POST(self):
            data = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            reports.append(data)
            self.send_response(204)
            self.end_headers()
            if data.get("messages") or data.get("error"):
                got_message.set()

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    profile = tempfile.mkdtemp(prefix="herald-chromium-")
    chrome = subprocess.Popen(
        [browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
         "--no-first-run", "--disable-background-networking", "--disable-component-update",
         "--disable-sync", "--user-data-dir=" + profile,
         f"http://127.0.0.1:{server.server_address[1]}/"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        got_message.wait(timeout=60)
    finally:
        chrome.kill()
        chrome.wait()
        server.shutdown()
        herald.send_signal(signal.SIGTERM)
        herald.wait(timeout=5)
        shutil.rmtree(profile, ignore_errors=True)
    last = reports[-1] if reports else {}
    if last.get("messages") != ["C'est le message"]:
        print("FAIL: the browser reported", reports)
        sys.exit(1)
    print("headless Chromium received:", last["messages"][0])


if __name__ == "__main__":
    main()
