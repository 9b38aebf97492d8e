// A real NATS cluster for tests: three Debian nats-server processes on 127.0.0.1, routed to
// each other, each with its monitoring port; stopped (SIGTERM, then SIGKILL) by PID at the end.
// Tests skip when /usr/sbin/nats-server is missing.
#pragma once

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <functional>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "tests/support/free_port.h"
#include "tests/support/herald_process.h"
#include "tests/support/ws_client.h"

namespace herald::test {

using namespace std::chrono_literals;

constexpr const char* kNatsServer = "/usr/sbin/nats-server";

// The body of GET `path` on 127.0.0.1:port ("" when it did not answer).
inline std::string http_get_body(std::uint16_t port, const std::string& path) {
    const std::string out =
        http_exchange(port, "GET " + path + " HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n");
    const std::size_t body = out.find("\r\n\r\n");
    return body == std::string::npos ? "" : out.substr(body + 4);
}

class NatsCluster {
  public:
    struct Server {
        std::uint16_t client = 0, route = 0, monitor = 0;
        pid_t pid = -1;
        std::string url() const { return "nats://127.0.0.1:" + std::to_string(client); }
    };

    // Starts `n` routed servers and waits (up to 20 s) until each has a route to every other;
    // `extra` goes to every server's command line (--user, --tls ...).
    explicit NatsCluster(int n = 3, std::vector<std::string> extra = {})
        : extra_(std::move(extra)) {
        for (int i = 0; i < n; ++i) servers.push_back({free_port(), free_port(), free_port(), -1});
        for (int i = 0; i < n; ++i) start(static_cast<std::size_t>(i));
        const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
        while (!routed(n - 1) && std::chrono::steady_clock::now() < deadline)
            std::this_thread::sleep_for(std::chrono::milliseconds(50));
        ok_ = routed(n - 1);
    }
    ~NatsCluster() {
        for (Server& s : servers) kill_server(s, SIGTERM);
    }
    NatsCluster(const NatsCluster&) = delete;
    NatsCluster& operator=(const NatsCluster&) = delete;

    bool ok() const { return ok_; }
    // Every server's URL, server `first`'s first (a host's own server, then the others).
    std::string urls(std::size_t first) const {
        std::string out = servers[first].url();
        for (std::size_t i = 0; i < servers.size(); ++i)
            if (i != first) out += "," + servers[i].url();
        return out;
    }
    // Stops server i with `sig` (SIGKILL: kill -9) and reaps it.
    void kill_server(Server& s, int sig) {
        if (s.pid <= 0) return;
        kill(s.pid, sig);
        for (int i = 0; i < 100; ++i) {
            if (waitpid(s.pid, nullptr, WNOHANG) == s.pid) {
                s.pid = -1;
                return;
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
        }
        kill(s.pid, SIGKILL);
        waitpid(s.pid, nullptr, 0);
        s.pid = -1;
    }
    // The `"name":N` number in server i's monitoring `path` (0 when absent).
    std::uint64_t monitor_number(std::size_t i, const std::string& path,
                                 const std::string& name) const {
        const std::string body = http_get_body(servers[i].monitor, path);
        const std::size_t at = body.find("\"" + name + "\":");
        if (at == std::string::npos) return 0;
        return std::strtoull(body.c_str() + at + name.size() + 3, nullptr, 10);
    }

    std::vector<Server> servers;

    // (Re)starts server i with its ports (after kill_server).
    void start(std::size_t i) {
        Server& s = servers[i];
        std::string routes;
        for (std::size_t j = 0; j < servers.size(); ++j)
            if (j != i)
                routes += (routes.empty() ? "" : ",") + std::string("nats://127.0.0.1:") +
                          std::to_string(servers[j].route);
        std::vector<std::string> args = {kNatsServer,
                                         "-a",
                                         "127.0.0.1",
                                         "-p",
                                         std::to_string(s.client),
                                         "-m",
                                         std::to_string(s.monitor),
                                         "-n",
                                         "n" + std::to_string(i),
                                         "--cluster_name",
                                         "herald-test",
                                         "--cluster",
                                         "nats://127.0.0.1:" + std::to_string(s.route),
                                         "--routes",
                                         routes};
        args.insert(args.end(), extra_.begin(), extra_.end());
        s.pid = fork();
        if (s.pid == 0) {
            const int null = open("/dev/null", O_WRONLY);
            dup2(null, 1);
            dup2(null, 2);
            std::vector<char*> argv;
            for (std::string& a : args) argv.push_back(a.data());
            argv.push_back(nullptr);
            execv(argv[0], argv.data());
            _exit(127);
        }
    }

  private:
    bool routed(int want) const {
        for (std::size_t i = 0; i < servers.size(); ++i)
            if (monitor_number(i, "/routez", "num_routes") < static_cast<std::uint64_t>(want))
                return false;
        return true;
    }
    bool ok_ = false;
    std::vector<std::string> extra_;
};

// ---- herald hosts on the NATS cluster ---------------------------------------------------

inline bool nats_eventually(const std::function<bool()>& ok,
                            std::chrono::milliseconds limit = 15s) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < deadline) {
        if (ok()) return true;
        std::this_thread::sleep_for(20ms);
    }
    return ok();
}

// One herald host: --workers 2, --engine nats, the admin listener on 127.0.0.1.
struct NatsHost {
    std::uint16_t api_port = 0;
    std::unique_ptr<HeraldProcess> herald;

    // The hub's "nats" object's counter `name` in GET /stats (0 when absent).
    std::uint64_t nats(const std::string& name) const {
        const std::string s = http_get_body(api_port, "/stats");
        const std::size_t at = s.find("\"nats\":{");
        const std::size_t v = at == std::string::npos ? at : s.find("\"" + name + "\":", at);
        return v == std::string::npos ? 0
                                      : std::strtoull(s.c_str() + v + name.size() + 3, nullptr, 10);
    }
    std::unique_ptr<WsClient> member(const std::string& group) const {
        auto ws = WsClient::connect(herald->port());
        if (ws) ws->add_group(group);
        if (ws) ws->sync();
        return ws;
    }
};

// `n` herald hosts, node ids 1..n, host i connected to server i first (then the others).
class NatsHosts {
  public:
    explicit NatsHosts(const NatsCluster& nats, int n = 3) {
        for (int i = 0; i < n; ++i) {
            NatsHost h;
            h.api_port = free_port();
            h.herald = std::make_unique<HeraldProcess>(std::vector<std::string>{
                "--workers", "2", "--node-id", std::to_string(i + 1), "--engine", "nats",
                "--nats-url", nats.urls(static_cast<std::size_t>(i)), "--api-listen",
                "127.0.0.1:" + std::to_string(h.api_port)});
            hosts.push_back(std::move(h));
        }
    }
    // Every hub is up and its NATS connection is ready (/readyz answers 200).
    bool ready() const {
        for (const NatsHost& h : hosts) {
            if (!h.herald->ok()) return false;
            const bool up = nats_eventually([&] {
                return http_exchange(h.api_port,
                                     "GET /readyz HTTP/1.1\r\nHost: h\r\n"
                                     "Connection: close\r\n\r\n")
                    .starts_with("HTTP/1.1 200");
            });
            if (!up) return false;
        }
        return true;
    }
    std::vector<NatsHost> hosts;
};

// Reads `member`'s frames until it has seen a text frame starting with each of `tags`
// (publishers keep probing meanwhile through `probe`): the subscriptions are live across the
// NATS cluster. False after 15 s.
inline bool probe_until_seen(const std::vector<WsClient*>& members,
                             const std::vector<std::string>& tags,
                             const std::function<void()>& probe) {
    std::vector<std::set<std::string>> seen(members.size());
    const auto deadline = std::chrono::steady_clock::now() + 15s;
    while (std::chrono::steady_clock::now() < deadline) {
        probe();
        bool all = true;
        for (std::size_t m = 0; m < members.size(); ++m) {
            while (auto f = members[m]->read_frame(20)) {
                if (f->opcode == net::Opcode::kText) seen[m].insert(f->payload);
            }
            for (const std::string& t : tags) all = all && seen[m].contains(t);
        }
        if (all) return true;
    }
    return false;
}

// The nats-server connection named herald-hub-<node>'s "subscriptions" in /connz?subs=1 of
// server `s` (-1 when that connection is not there).
inline long hub_subscriptions(const NatsCluster& nats, std::size_t s, int node) {
    const std::string body = http_get_body(nats.servers[s].monitor, "/connz?subs=1");
    const std::size_t at = body.find("\"name\": \"herald-hub-" + std::to_string(node) + "\"");
    if (at == std::string::npos) return -1;
    const std::size_t start = body.rfind('{', at);
    const std::size_t v = body.find("\"subscriptions\": ", start);
    return v == std::string::npos ? -1 : std::strtol(body.c_str() + v + 17, nullptr, 10);
}

// A raw NATS client (the text protocol, headers on): connects to `port`, sends `commands`
// after CONNECT, then PING, and returns what the server said up to its PONG ("" on failure).
inline std::string nats_raw_client(std::uint16_t port, const std::string& commands) {
    const int fd = tcp_connect(port);
    if (fd < 0) return "";
    const std::string out =
        "CONNECT {\"verbose\":false,\"pedantic\":false,\"headers\":true,"
        "\"protocol\":1}\r\n" +
        commands + "PING\r\n";
    std::string in;
    if (write(fd, out.data(), out.size()) == static_cast<ssize_t>(out.size())) {
        char buf[4096];
        const auto deadline = std::chrono::steady_clock::now() + 5s;
        while (in.find("PONG") == std::string::npos &&
               std::chrono::steady_clock::now() < deadline) {
            const ssize_t n = read(fd, buf, sizeof buf);
            if (n <= 0) break;
            in.append(buf, static_cast<std::size_t>(n));
        }
    }
    close(fd);
    return in;
}

}  // namespace herald::test
