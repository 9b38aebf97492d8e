// Prints the body of GET /metrics of a real herald (two workers and a hub with --admin-listen,
// one WebSocket member so the handshake histogram has a sample) to stdout, for
// integration/promtool_check.sh. Exit 1, with the reason on stderr, when herald does not start
// or /metrics does not answer 200.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <string>
#include <thread>

#include "tests/support/free_port.h"
#include "tests/support/herald_process.h"
#include "tests/support/ws_client.h"

int main() {
    using namespace herald::test;
    const std::uint16_t admin = free_port();
    HeraldProcess herald(
        {"--workers", "2", "--admin-listen", "127.0.0.1:" + std::to_string(admin)});
    if (!herald.ok()) {
        std::fprintf(stderr, "herald did not start: %s\n", herald.stderr_text().c_str());
        return 1;
    }
    auto member = WsClient::connect(herald.port());
    if (member) member->add_group("g");
    std::string out;
    const auto end = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (out.rfind("HTTP/1.1 200", 0) != 0 && std::chrono::steady_clock::now() < end) {
        out = http_exchange(admin, "GET /metrics HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n");
        if (out.rfind("HTTP/1.1 200", 0) != 0)
            std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    const std::size_t body = out.find("\r\n\r\n");
    if (out.rfind("HTTP/1.1 200", 0) != 0 || body == std::string::npos) {
        std::fprintf(stderr, "GET /metrics did not answer 200: %s\n", out.c_str());
        return 1;
    }
    std::fwrite(out.data() + body + 4, 1, out.size() - body - 4, stdout);
    return 0;
}
