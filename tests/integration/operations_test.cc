// What an operator does to a running herald: signals (none is fatal but TERM/INT, which stop
// gracefully), SIGHUP reloads of the config file under load, --config and --print-config on the
// real binary.
#include <arpa/inet.h>
#include <dirent.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "tests/support/free_port.h"
#include "tests/support/herald_process.h"
#include "tests/support/ws_client.h"

namespace herald::test {
namespace {

using Clock = std::chrono::steady_clock;
using Clients = std::vector<std::unique_ptr<WsClient>>;

// Every signal a herald process may be sent that must leave it running: the standard ones it
// logs and ignores (or reloads on: SIGHUP), and every real-time signal glibc lets a program use.
std::vector<int> survivable_signals() {
    std::vector<int> out = {SIGHUP,  SIGUSR1, SIGUSR2,  SIGALRM,   SIGVTALRM, SIGPROF,
                            SIGIO,   SIGCHLD, SIGWINCH, SIGTSTP,   SIGTTIN,   SIGTTOU,
                            SIGXCPU, SIGXFSZ, SIGPWR,   SIGSTKFLT, SIGURG,    SIGPIPE};
    for (int sig = SIGRTMIN; sig <= SIGRTMAX; ++sig) out.push_back(sig);
    return out;
}

// The processes whose parent is `parent` (a master's workers and hub).
std::vector<pid_t> children_of(pid_t parent) {
    std::vector<pid_t> out;
    DIR* proc = opendir("/proc");
    while (dirent* e = proc != nullptr ? readdir(proc) : nullptr) {
        const pid_t pid = std::atoi(e->d_name);
        if (pid <= 0) continue;
        std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
        std::string text((std::istreambuf_iterator<char>(stat)), {});
        const auto paren = text.rfind(')');
        if (paren == std::string::npos) continue;
        char state = 0;
        int ppid = 0;
        if (std::sscanf(text.c_str() + paren + 1, " %c %d", &state, &ppid) == 2 && ppid == parent) {
            out.push_back(pid);
        }
    }
    if (proc != nullptr) closedir(proc);
    return out;
}

Clients join(std::uint16_t port, int n) {
    Clients clients;
    for (int i = 0; i < n; ++i) {
        clients.push_back(WsClient::connect(port));
        if (!clients.back()) return {};
        clients.back()->add_group("ops");
        clients.back()->sync();
    }
    return clients;
}

// One round of light load: every client publishes to the group, and every client receives
// every message. False when a message is missing (a dropped connection or a stuck process).
bool publish_round(Clients& clients, int round) {
    for (std::size_t i = 0; i < clients.size(); ++i) {
        const std::string msg = "r" + std::to_string(round) + "c" + std::to_string(i);
        if (!clients[i]->send_to_group("ops", msg)) return false;
    }
    for (auto& c : clients) {
        for (std::size_t i = 0; i < clients.size(); ++i) {
            if (!c->read_text(5000)) return false;
        }
    }
    return true;
}

bool alive(pid_t pid) {
    if (kill(pid, 0) != 0) return false;
    std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
    std::string text((std::istreambuf_iterator<char>(stat)), {});
    const auto paren = text.rfind(')');
    return paren != std::string::npos && text.size() > paren + 2 && text[paren + 2] != 'Z';
}

TEST(Operations, NoCatchableSignalKillsTheMasterAWorkerOrTheHub) {
    HeraldProcess herald({"--workers", "2", "--api-listen", "127.0.0.1:0"});
    ASSERT_TRUE(herald.ok()) << herald.stderr_text();
    Clients clients = join(herald.port(), 4);
    ASSERT_EQ(clients.size(), 4u);
    std::vector<pid_t> pids = children_of(herald.pid());
    ASSERT_EQ(pids.size(), 3u);  // two workers and the hub
    pids.insert(pids.begin(), herald.pid());
    int round = 0;
    for (const pid_t pid : pids) {
        for (const int sig : survivable_signals()) {
            ASSERT_EQ(kill(pid, sig), 0) << sig;
            if (sig % 4 == 0) {
                ASSERT_TRUE(publish_round(clients, ++round)) << "signal " << sig;
            }
        }
        ASSERT_TRUE(publish_round(clients, ++round)) << herald.stderr_text();
    }
    for (const pid_t pid : pids) EXPECT_TRUE(alive(pid)) << pid;
    const std::string err = herald.stderr_text();
    EXPECT_EQ(err.find("killed by signal"), std::string::npos) << err;
    EXPECT_EQ(err.find("exited with status"), std::string::npos) << err;
    EXPECT_NE(err.find("event=signal_ignored signal=SIGUSR1"), std::string::npos) << err;
    // TERM still stops everything gracefully.
    const int status = herald.stop(SIGTERM, 5000);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
}

TEST(Operations, NoCatchableSignalKillsASingleProcess) {
    HeraldProcess herald({"--workers", "1"});
    ASSERT_TRUE(herald.ok());
    Clients clients = join(herald.port(), 3);
    ASSERT_EQ(clients.size(), 3u);
    int round = 0;
    for (const int sig : survivable_signals()) {
        ASSERT_EQ(kill(herald.pid(), sig), 0) << sig;
        if (sig % 4 == 0) {
            ASSERT_TRUE(publish_round(clients, ++round)) << "signal " << sig;
        }
    }
    ASSERT_TRUE(publish_round(clients, ++round));
    EXPECT_TRUE(alive(herald.pid()));
    const int status = herald.stop(SIGINT, 5000);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
}

// A config file in /tmp, removed at the end.
struct TempFile {
    std::string path;
    explicit TempFile(const std::string& text) {
        char name[] = "/tmp/herald-ops-XXXXXX";
        close(mkstemp(name));
        path = name;
        write(text);
    }
    ~TempFile() { std::remove(path.c_str()); }
    void write(const std::string& text) const { std::ofstream(path) << text; }
};

// Whether a fresh client's message of `size` bytes is refused with 1009 within a bounded wait
// (the workers apply a reload when their loop reads SIGHUP).
bool refused_with_1009(std::uint16_t port, std::size_t size) {
    const auto deadline = Clock::now() + std::chrono::seconds(10);
    while (Clock::now() < deadline) {
        auto c = WsClient::connect(port);
        if (!c) return false;
        c->send_text(std::string(size, 'x'));
        if (c->read_until_close(3000) == 1009) return true;
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return false;
}

void reload_under_load(const std::vector<std::string>& extra) {
    TempFile config("[limits]\nmax-message = \"64KiB\"\n");
    std::vector<std::string> args = {"--config", config.path};
    args.insert(args.end(), extra.begin(), extra.end());
    HeraldProcess herald(args);
    ASSERT_TRUE(herald.ok()) << herald.stderr_text();
    Clients clients = join(herald.port(), 4);
    ASSERT_EQ(clients.size(), 4u);
    ASSERT_TRUE(publish_round(clients, 0));
    config.write("[limits]\nmax-message = 1000\nmax-group-id = 9\n");
    ASSERT_EQ(kill(herald.pid(), SIGHUP), 0);
    int round = 0;
    const auto deadline = Clock::now() + std::chrono::seconds(10);
    while (herald.stderr_text().find("event=reload ") == std::string::npos &&
           Clock::now() < deadline) {
        ASSERT_TRUE(publish_round(clients, ++round));
    }
    const std::string err = herald.stderr_text();
    EXPECT_NE(err.find("event=reload changed=\"max-message=1000\""), std::string::npos) << err;
    EXPECT_NE(err.find("event=reload_needs_restart keys=\"max-group-id=9\""), std::string::npos)
        << err;
    EXPECT_TRUE(refused_with_1009(herald.port(), 2000)) << herald.stderr_text();
    ASSERT_TRUE(publish_round(clients, ++round));  // no connection dropped
}

TEST(Operations, SighupReloadsTheFileUnderLoadInASingleProcess) {
    reload_under_load({"--workers", "1"});
}

TEST(Operations, SighupReloadsTheFileUnderLoadInEveryWorker) {
    reload_under_load({"--workers", "2", "--api-listen", "127.0.0.1:0"});
}

TEST(Operations, AFailedReloadKeepsTheRunningConfiguration) {
    TempFile config("[limits]\nmax-message = 2000\n");
    HeraldProcess herald({"--workers", "1", "--config", config.path});
    ASSERT_TRUE(herald.ok());
    config.write("[limits]\nmax-message = 12\n");
    ASSERT_EQ(kill(herald.pid(), SIGHUP), 0);
    const auto deadline = Clock::now() + std::chrono::seconds(10);
    while (herald.stderr_text().find("event=reload_failed") == std::string::npos &&
           Clock::now() < deadline) {
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    const std::string err = herald.stderr_text();
    EXPECT_NE(err.find("event=reload_failed reason=\"" + config.path +
                       ":2: [limits].max-message: bad value '12'"),
              std::string::npos)
        << err;
    auto c = WsClient::connect(herald.port());
    ASSERT_TRUE(c);
    ASSERT_TRUE(c->add_group("g"));
    ASSERT_TRUE(c->send_to_group("g", std::string(1500, 'y')));  // 2000 still holds
    EXPECT_TRUE(c->read_text(3000));
}

TEST(Operations, PrintConfigRoundTripsThroughTheBinary) {
    TempFile config("[limits]\nmax-message = \"64KiB\"\n[process]\nworkers = 2\n");
    const RunResult first = run_program(
        {herald_binary(), "--config", config.path, "--max-errors", "5", "--print-config"});
    ASSERT_EQ(first.status, 0) << first.err;
    EXPECT_NE(first.out.find("max-message = \"65536\""), std::string::npos) << first.out;
    EXPECT_NE(first.out.find("max-errors = 5"), std::string::npos) << first.out;
    TempFile printed(first.out);
    const RunResult second =
        run_program({herald_binary(), "--config", printed.path, "--print-config"});
    ASSERT_EQ(second.status, 0) << second.err;
    EXPECT_EQ(second.out, first.out);
}

TEST(Operations, ConfigErrorsAreOneStartUpLineNamingFileLineAndKey) {
    const std::pair<const char*, const char*> cases[] = {
        {"[limits]\nbogus = 1\n", ":2: unknown key [limits].bogus"},
        {"[limits]\nmax-errors = \"x\"\n", ":2: [limits].max-errors must be an integer"},
        {"[limits]\n\nmax-errors = 0\n", ":3: [limits].max-errors: bad value '0' for --max-errors"},
        {"[limits\n", ":1: "},
    };
    for (const auto& [text, expected] : cases) {
        TempFile config(text);
        const RunResult r = run_program({herald_binary(), "--config", config.path});
        EXPECT_EQ(r.status, 2) << text;
        EXPECT_TRUE(r.err.starts_with("herald: " + config.path + expected)) << r.err;
        EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
    }
    const RunResult missing = run_program({herald_binary(), "--config", "/nonexistent.toml"});
    EXPECT_EQ(missing.status, 2);
    EXPECT_EQ(missing.err, "herald: /nonexistent.toml: cannot read: No such file or directory\n");
}

// Sends a WebSocket upgrade request on a new TCP connection and returns everything the server
// writes until it closes (or 5 s pass).
std::string upgrade_answer(std::uint16_t port) {
    const int fd = tcp_connect(port);
    if (fd < 0) return "(no connection)";
    const std::string request =
        "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";
    (void)!::write(fd, request.data(), request.size());
    std::string out;
    const auto deadline = Clock::now() + std::chrono::seconds(5);
    char buf[4096];
    while (Clock::now() < deadline) {
        pollfd p{fd, POLLIN, 0};
        if (poll(&p, 1, 100) <= 0) continue;
        const ssize_t n = ::read(fd, buf, sizeof buf);
        if (n <= 0) break;
        out.append(buf, static_cast<std::size_t>(n));
    }
    close(fd);
    return out;
}

TEST(Operations, ConnectionsOverMaxConnsGet503WithRetryAfter) {
    HeraldProcess herald({"--workers", "1", "--max-conns", "2"});
    ASSERT_TRUE(herald.ok());
    Clients clients = join(herald.port(), 2);
    ASSERT_EQ(clients.size(), 2u);
    for (int i = 0; i < 3; ++i) {
        const std::string answer = upgrade_answer(herald.port());
        EXPECT_TRUE(answer.starts_with("HTTP/1.1 503 Service Unavailable\r\n")) << answer;
        EXPECT_NE(answer.find("\r\nRetry-After: 1\r\n"), std::string::npos) << answer;
    }
    ASSERT_TRUE(publish_round(clients, 1));  // the connections within the limit are untouched
    // One line for the burst (rate-limited), and the refusals counted in /stats.
    const std::string err = herald.stderr_text();
    EXPECT_NE(err.find("event=conn_refused reason=max-conns max_conns=2"), std::string::npos)
        << err;
    clients.pop_back();
    std::uint64_t rejected = 0;
    const auto deadline = Clock::now() + std::chrono::seconds(10);
    while (rejected < 3 && Clock::now() < deadline) {
        rejected = stats_total(herald.port(), "rejected");
        if (rejected < 3) std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    EXPECT_GE(rejected, 3u);  // a /stats query itself may have been refused first
}

std::string publish_with(std::uint16_t port, const std::string& token) {
    const std::string body = R"({"group_id":"ops","message":"hi"})";
    return http_exchange(
        port, "POST /publish HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer " + token +
                  "\r\nContent-Length: " + std::to_string(body.size()) +
                  "\r\nConnection: close\r\n\r\n" + body);
}

TEST(Operations, SighupChangesTheApiTokenInTheHub) {
    const std::uint16_t api = free_port();
    TempFile config("[admin]\ntoken = \"first\"\n");
    HeraldProcess herald({"--workers", "1", "--api-listen", "127.0.0.1:" + std::to_string(api),
                          "--config", config.path});
    ASSERT_TRUE(herald.ok()) << herald.stderr_text();
    ASSERT_TRUE(publish_with(api, "first").starts_with("HTTP/1.1 202"));
    config.write("[admin]\ntoken = \"second\"\n");
    ASSERT_EQ(kill(herald.pid(), SIGHUP), 0);
    bool refused = false;
    const auto deadline = Clock::now() + std::chrono::seconds(10);
    while (!refused && Clock::now() < deadline) {
        refused = publish_with(api, "first").starts_with("HTTP/1.1 401");
        if (!refused) std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    EXPECT_TRUE(refused) << herald.stderr_text();
    EXPECT_TRUE(publish_with(api, "second").starts_with("HTTP/1.1 202"));
    EXPECT_NE(herald.stderr_text().find("event=reload changed=\"api-token=(changed)\""),
              std::string::npos)
        << herald.stderr_text();
}

// A stand-in for systemd's notification socket: an abstract AF_UNIX datagram socket whose name
// goes to the herald processes started while it lives ($NOTIFY_SOCKET).
class NotifySocket {
  public:
    NotifySocket() {
        fd_ = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        const std::string name = "herald-test-notify-" + std::to_string(getpid());
        sockaddr_un addr{};
        addr.sun_family = AF_UNIX;
        std::memcpy(addr.sun_path + 1, name.data(), name.size());
        bind(fd_, reinterpret_cast<sockaddr*>(&addr),
             static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + 1 + name.size()));
        setenv("NOTIFY_SOCKET", ("@" + name).c_str(), 1);
    }
    ~NotifySocket() {
        unsetenv("NOTIFY_SOCKET");
        close(fd_);
    }
    // The next datagram's text, or "" after timeout_ms.
    std::string next(int timeout_ms = 10000) {
        pollfd p{fd_, POLLIN, 0};
        if (poll(&p, 1, timeout_ms) <= 0) return "";
        char buf[512];
        const ssize_t n = recv(fd_, buf, sizeof buf, 0);
        return n > 0 ? std::string(buf, static_cast<std::size_t>(n)) : "";
    }

  private:
    int fd_ = -1;
};

TEST(Operations, TellsSystemdReadyReloadingAndStopping) {
    NotifySocket systemd;
    HeraldProcess herald({"--workers", "2"});
    ASSERT_TRUE(herald.ok());
    EXPECT_EQ(systemd.next(), "READY=1");
    ASSERT_EQ(kill(herald.pid(), SIGHUP), 0);
    EXPECT_TRUE(systemd.next().starts_with("RELOADING=1\nMONOTONIC_USEC="));
    EXPECT_EQ(systemd.next(), "READY=1");
    const int status = herald.stop(SIGTERM, 5000);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
    EXPECT_EQ(systemd.next(), "STOPPING=1");
}

TEST(Operations, ASingleProcessTellsSystemdReady) {
    NotifySocket systemd;
    HeraldProcess herald({"--workers", "1"});
    ASSERT_TRUE(herald.ok());
    EXPECT_EQ(systemd.next(), "READY=1");
    ASSERT_EQ(kill(herald.pid(), SIGHUP), 0);
    EXPECT_TRUE(systemd.next().starts_with("RELOADING=1\n"));
    EXPECT_EQ(systemd.next(), "READY=1");
}

}  // namespace
}  // namespace herald::test
