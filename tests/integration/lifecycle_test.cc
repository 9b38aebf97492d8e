// Start-up, shutdown and resource hygiene of the real binary.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <string>
#include <vector>

#include "net/endpoint.h"
#include "tests/support/herald_process.h"
#include "tests/support/ws_client.h"

namespace herald::test {
namespace {

using Clock = std::chrono::steady_clock;

TEST(Lifecycle, SigtermClosesEveryConnectionWith1001AndExitsZero) {
    for (int sig : {SIGTERM, SIGINT}) {
        HeraldProcess herald;
        ASSERT_TRUE(herald.ok());
        std::vector<std::unique_ptr<WsClient>> clients;
        for (int i = 0; i < 50; ++i) {
            clients.push_back(WsClient::connect(herald.port()));
            ASSERT_TRUE(clients.back());
            clients.back()->add_group("g");
        }
        ASSERT_TRUE(clients.back()->sync());
        const auto start = Clock::now();
        kill(herald.pid(), sig);
        for (auto& c : clients) {
            auto f = c->read_frame(3000);
            ASSERT_TRUE(f);
            EXPECT_EQ(f->opcode, net::Opcode::kClose);
            EXPECT_EQ(f->close_code(), 1001);
            c->send_close(1001);
        }
        const int status = herald.stop(0, 3000);  // signal 0: just wait
        ASSERT_TRUE(WIFEXITED(status)) << status;
        EXPECT_EQ(WEXITSTATUS(status), 0);
        EXPECT_LT(Clock::now() - start, std::chrono::seconds(2));
    }
}

TEST(Lifecycle, ClientsThatIgnoreTheCloseDoNotHoldUpShutdown) {
    HeraldProcess herald;
    ASSERT_TRUE(herald.ok());
    std::vector<std::unique_ptr<WsClient>> clients;
    for (int i = 0; i < 20; ++i) clients.push_back(WsClient::connect(herald.port()));
    const auto start = Clock::now();
    const int status = herald.stop(SIGTERM, 5000);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
    EXPECT_LT(Clock::now() - start, std::chrono::seconds(2));
}

TEST(Lifecycle, ConnectionsInWavesLeaveNoDescriptorsBehind) {
    HeraldProcess herald({"--workers", "1"});  // one process holds every descriptor
    ASSERT_TRUE(herald.ok());
    const int baseline = herald.open_fds();
    for (int wave = 0; wave < 4; ++wave) {
        std::vector<std::unique_ptr<WsClient>> ws;
        std::vector<int> raw;
        for (int i = 0; i < 500; ++i) {
            switch (i % 4) {
                case 0:
                case 1: {  // WebSocket clients: half close politely, half just vanish
                    auto c = WsClient::connect(herald.port());
                    ASSERT_TRUE(c) << "wave " << wave << " conn " << i;
                    c->add_group("wave" + std::to_string(i % 7));
                    ws.push_back(std::move(c));
                    break;
                }
                case 2:  // a TCP connection that never speaks
                    raw.push_back(tcp_connect(herald.port()));
                    break;
                default:  // half a request head
                    raw.push_back(tcp_connect(herald.port()));
                    send(raw.back(), "GET / HTTP/1.1\r\n", 16, 0);
            }
        }
        ASSERT_GT(herald.open_fds(), baseline + 400);
        for (std::size_t i = 0; i < ws.size(); ++i) {
            if (i % 2 == 0) {
                ws[i]->send_close(1000);
            } else {
                ws[i]->close_socket();
            }
        }
        for (int fd : raw) close(fd);
        for (std::size_t i = 0; i < ws.size(); i += 2) EXPECT_TRUE(ws[i]->wait_eof(2000));
    }
    const auto deadline = Clock::now() + std::chrono::seconds(5);
    while (herald.open_fds() != baseline && Clock::now() < deadline) usleep(20000);
    EXPECT_EQ(herald.open_fds(), baseline);
    const std::string stats =
        http_exchange(herald.port(), "GET /stats HTTP/1.1\r\nHost: x\r\n\r\n");
    EXPECT_NE(stats.find("\"connections\":1,"), std::string::npos) << stats;  // the stats request
}

TEST(Lifecycle, PortInUseFailsWithOneLineNamingCauseAndFix) {
    HeraldProcess first;
    ASSERT_TRUE(first.ok());
    const RunResult r =
        run_program({herald_binary(), "--listen", "127.0.0.1:" + std::to_string(first.port())});
    EXPECT_NE(r.status, 0);
    EXPECT_NE(r.err.find("address already in use"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("--listen"), std::string::npos) << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
    EXPECT_EQ(r.out, "");
}

TEST(Lifecycle, BadFlagsFailWithExitCode2) {
    for (const auto& args : std::vector<std::vector<std::string>>{{"--no-such-flag"},
                                                                  {"--listen"},
                                                                  {"--listen", "nonsense"},
                                                                  {"--max-message", "lots"},
                                                                  {"--recv-buffers", "1000"},
                                                                  {"stray"}}) {
        std::vector<std::string> argv = {herald_binary()};
        argv.insert(argv.end(), args.begin(), args.end());
        const RunResult r = run_program(argv);
        EXPECT_EQ(r.status, 2) << args[0];
        EXPECT_TRUE(r.err.starts_with("herald: ")) << r.err;
        EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
    }
}

TEST(Lifecycle, BlockedIoUringFailsWithOneLineNamingCauseAndFix) {
    const RunResult r = run_program({HERALD_NO_URING, herald_binary(), "--listen", "127.0.0.1:0"});
    EXPECT_EQ(r.status, 1) << r.err;
    EXPECT_NE(r.err.find("io_uring is blocked"), std::string::npos) << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
}

TEST(Lifecycle, HelpAndVersionExplainThemselves) {
    const RunResult help = run_program({herald_binary(), "--help"});
    EXPECT_EQ(help.status, 0);
    for (const char* flag :
         {"--listen", "--max-message", "--max-backpressure", "--max-group-id",
          "--max-groups-per-conn", "--max-errors", "--recv-mode", "add_group", "send_to_group"}) {
        EXPECT_NE(help.out.find(flag), std::string::npos) << flag;
    }
    const RunResult version = run_program({herald_binary(), "--version"});
    EXPECT_EQ(version.status, 0);
    EXPECT_TRUE(version.out.starts_with("herald ")) << version.out;
}

TEST(Lifecycle, PollFallbackServesTheSameProtocol) {
    HeraldProcess herald({"--recv-mode", "poll"});
    ASSERT_TRUE(herald.ok());
    auto ws = WsClient::connect(herald.port());
    ASSERT_TRUE(ws);
    ws->add_group("123");
    ws->send_to_group("123", "hello");
    EXPECT_EQ(ws->read_text(), "hello");
}

}  // namespace
}  // namespace herald::test
