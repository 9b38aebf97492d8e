// tools/herald/options with --config: every flag has a key, the command line overrides the
// file, each kind of error names the file, line and key, --print-config round-trips, and a
// reload reads the file again and tells live keys from restart keys.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "tools/herald/options.h"

namespace herald::tools {
namespace {

constexpr unsigned kCpus = 4;

core::Result<HeraldOptions> parse(std::vector<std::string> args) {
    args.insert(args.begin(), "herald");
    std::vector<char*> argv;
    for (std::string& s : args) argv.push_back(s.data());
    return parse_options(static_cast<int>(argv.size()), argv.data(), kCpus);
}

// A config file in the test's temporary directory, removed at the end.
class ConfigFile {
  public:
    explicit ConfigFile(const std::string& text) {
        char name[] = "/tmp/herald-config-XXXXXX";
        const int fd = mkstemp(name);
        close(fd);
        path_ = name;
        write(text);
    }
    ~ConfigFile() { std::remove(path_.c_str()); }
    void write(const std::string& text) const { std::ofstream(path_) << text; }
    const std::string& path() const { return path_; }

  private:
    std::string path_;
};

constexpr const char* kEveryKey = R"(# every key, none at its default
[process]
workers = 3
pin = true
ring-size = "1MiB"
spin = "20us"
log-level = "warn"

[listen]
address = "127.0.0.1:4321"
recv-mode = "poll"
recv-buffers = 64
recv-buffer-size = "8KiB"
zerocopy-threshold = "64KiB"
sqpoll = "1"
busy-poll-us = 50

[limits]
max-message = "64KiB"
max-backpressure = 2097152
max-group-id = 64
max-groups-per-conn = 10
max-conns = 500
max-errors = 7
handshake-timeout = "3s"
close-timeout = "250ms"

[cluster]
listen = "127.0.0.1:7000"
peers = ["127.0.0.1:7000", "127.0.0.1:7001"]
node-id = 2
name = "blue"
peer-buffer = "1MiB"
peer-timeout = "5s"

[admin]
listen = "127.0.0.1:8080"
token = "s3cret"
)";

TEST(HeraldConfig, AcceptsEveryKeyOfTheSchema) {
    ConfigFile file(kEveryKey);
    core::Result<HeraldOptions> o = parse({"--config", file.path()});
    ASSERT_TRUE(o) << o.error();
    EXPECT_EQ(o->workers, 3u);
    EXPECT_TRUE(o->pin);
    EXPECT_EQ(o->ring_size, 1u << 20);
    EXPECT_EQ(o->relay.spin, 20 * core::kMicrosecond);
    EXPECT_EQ(o->log_level, net::LogLevel::kWarn);
    EXPECT_EQ(o->server.listen.to_string(), "127.0.0.1:4321");
    EXPECT_EQ(o->server.recv_mode, net::RecvMode::kPoll);
    EXPECT_EQ(o->server.recv_buffers, 64u);
    EXPECT_EQ(o->server.recv_buffer_size, 8192u);
    EXPECT_EQ(o->server.zerocopy_threshold, 64u << 10);
    EXPECT_TRUE(o->server.sqpoll);
    EXPECT_EQ(o->server.sqpoll_cpu, 1);
    EXPECT_EQ(o->server.busy_poll_us, 50u);
    EXPECT_EQ(o->server.max_message, 64u << 10);
    EXPECT_EQ(o->server.max_backpressure, 2u << 20);
    EXPECT_EQ(o->server.max_group_id, 64u);
    EXPECT_EQ(o->server.max_groups_per_conn, 10u);
    EXPECT_EQ(o->server.max_conns, 500u);
    EXPECT_EQ(o->server.max_errors, 7u);
    EXPECT_EQ(o->server.handshake_timeout, 3 * core::kSecond);
    EXPECT_EQ(o->server.close_timeout, 250 * core::kMillisecond);
    EXPECT_TRUE(o->hub_options.cluster_enabled);
    EXPECT_EQ(o->hub_options.peers.size(), 2u);
    EXPECT_EQ(o->hub_options.node_id, 2u);
    EXPECT_EQ(o->hub_options.cluster, "blue");
    EXPECT_EQ(o->hub_options.peer_buffer, 1u << 20);
    EXPECT_EQ(o->hub_options.peer_timeout, 5 * core::kSecond);
    EXPECT_TRUE(o->hub_options.api_enabled);
    EXPECT_EQ(o->hub_options.api_token, "s3cret");
    EXPECT_EQ(o->config_path, file.path());
}

TEST(HeraldConfig, EveryFlagHasAKeyExceptTheOnesAboutTheFileItself) {
    const std::string help = usage();
    std::size_t flags = 0;
    for (std::size_t at = help.find("\n  --"); at != std::string::npos;
         at = help.find("\n  --", at + 1)) {
        const std::size_t end = help.find_first_of(" \n[", at + 5);  // --sqpoll[=CPU]
        const std::string flag = help.substr(at + 5, end - at - 5);
        if (flag == "help" || flag == "version" || flag == "config" || flag == "print-config" ||
            flag == "api-listen") {  // an alias of --admin-listen, whose key it shares
            continue;
        }
        ++flags;
        bool found = false;
        for (const OptionKey& k : option_keys()) found = found || k.key.flag == flag;
        EXPECT_TRUE(found) << "--" << flag << " has no config-file key";
    }
    EXPECT_EQ(flags, option_keys().size());
}

TEST(HeraldConfig, CommandLineFlagsOverrideTheFile) {
    ConfigFile file("[limits]\nmax-message = 2000\nmax-errors = 5\n");
    core::Result<HeraldOptions> o = parse({"--max-message=3000", "--config", file.path()});
    ASSERT_TRUE(o) << o.error();
    EXPECT_EQ(o->server.max_message, 3000u);
    EXPECT_EQ(o->server.max_errors, 5u);
}

std::string error_of(const std::string& text) {
    ConfigFile file(text);
    core::Result<HeraldOptions> o = parse({"--config=" + file.path()});
    if (o) return "(no error)";
    // The temporary name varies: the tests look at what follows it.
    std::string e = o.error();
    if (e.starts_with(file.path())) e = "FILE" + e.substr(file.path().size());
    return e;
}

TEST(HeraldConfig, UnknownKeyNamesFileLineAndKey) {
    EXPECT_EQ(error_of("[limits]\nmax-message = 2000\nmax-mesage = 1\n"),
              "FILE:3: unknown key [limits].max-mesage");
    EXPECT_EQ(error_of("\n[limitz]\nx = 1\n"), "FILE:2: unknown table [limitz]");
}

TEST(HeraldConfig, WrongTypeNamesFileLineAndKey) {
    EXPECT_EQ(error_of("[process]\n\nworkers = \"two\"\n"),
              "FILE:3: [process].workers must be an integer");
}

TEST(HeraldConfig, BadValueNamesFileLineKeyAndTheFlagParsersReason) {
    EXPECT_EQ(error_of("[limits]\nmax-message = 12\n"),
              "FILE:2: [limits].max-message: bad value '12' for --max-message: must be between "
              "126 and 1073741824");
    EXPECT_EQ(error_of("[process]\nlog-level = \"loud\"\n"),
              "FILE:2: [process].log-level: bad value 'loud' for --log-level: expected debug, "
              "info, warn or error");
}

TEST(HeraldConfig, SyntaxErrorNamesTheLine) {
    const std::string e = error_of("[limits]\nmax-message = = 3\n");
    EXPECT_TRUE(e.starts_with("FILE:2: ")) << e;
}

TEST(HeraldConfig, MissingFileIsAnError) {
    core::Result<HeraldOptions> o = parse({"--config", "/nonexistent/herald.toml"});
    ASSERT_FALSE(o);
    EXPECT_EQ(o.error(), "/nonexistent/herald.toml: cannot read: No such file or directory");
}

constexpr const char* kNatsKeys = R"([cluster]
engine = "nats"
nats-url = ["nats://u:p@127.0.0.1:4222", "tls://127.0.0.1:4223"]
nats-creds = "/etc/herald/hub.creds"
nats-ca = "/etc/herald/nats-ca.pem"
nats-prefix = "acme.herald."
nats-buffer = "1MiB"
)";

TEST(HeraldConfig, NatsKeysLiveInTheClusterTableAndPrintBackTheSame) {
    ConfigFile file(kNatsKeys);
    core::Result<HeraldOptions> o = parse({"--config", file.path()});
    ASSERT_TRUE(o) << o.error();
    EXPECT_EQ(o->hub_options.engine, channel::Engine::kNats);
    EXPECT_EQ(o->hub_options.nats_urls.size(), 2u);
    EXPECT_EQ(o->hub_options.nats_creds, "/etc/herald/hub.creds");
    EXPECT_EQ(o->hub_options.nats_prefix, "acme.herald.");
    EXPECT_EQ(o->hub_options.nats_buffer, 1u << 20);
    EXPECT_TRUE(o->hub);
    const std::string printed = print_config_text(*o);
    ConfigFile again(printed);
    core::Result<HeraldOptions> second = parse({"--config", again.path()});
    ASSERT_TRUE(second) << second.error() << "\n" << printed;
    EXPECT_EQ(print_config_text(*second), printed);
}

TEST(HeraldConfig, PrintedConfigurationReadsBackTheSame) {
    for (const char* text : {kEveryKey, ""}) {
        ConfigFile file(text);
        core::Result<HeraldOptions> first = parse({"--config", file.path()});
        ASSERT_TRUE(first) << first.error();
        const std::string printed = print_config_text(*first);
        ConfigFile again(printed);
        core::Result<HeraldOptions> second = parse({"--config", again.path()});
        ASSERT_TRUE(second) << second.error() << "\n" << printed;
        EXPECT_EQ(print_config_text(*second), printed);
    }
}

TEST(HeraldConfig, ReloadReadsTheFileAgainAndSortsLiveFromRestartKeys) {
    ConfigFile file("[limits]\nmax-message = 2000\n");
    core::Result<HeraldOptions> running = parse({"--config", file.path(), "--workers=2"});
    ASSERT_TRUE(running) << running.error();
    file.write(
        "[limits]\nmax-message = 1000\nmax-group-id = 10\n[admin]\ntoken = \"t\"\n"
        "[process]\nworkers = 9\n");
    core::Result<HeraldOptions> fresh = reread_options(*running);
    ASSERT_TRUE(fresh) << fresh.error();
    EXPECT_EQ(fresh->workers, 2u);  // the command line still wins
    const OptionChanges changes = compare_options(*running, *fresh);
    EXPECT_EQ(changes.live, "max-message=1000 api-token=(changed)");
    EXPECT_EQ(changes.restart, "max-group-id=10");
    apply_live_options(*running, *fresh);
    EXPECT_EQ(running->server.max_message, 1000u);
    EXPECT_EQ(running->server.max_group_id, 128u);
    EXPECT_EQ(compare_options(*running, *fresh).live, "");
}

TEST(HeraldConfig, ApplyLiveCopiesEveryKeyMarkedLive) {
    ConfigFile file(kEveryKey);
    core::Result<HeraldOptions> fresh = parse({"--config", file.path()});
    ASSERT_TRUE(fresh) << fresh.error();
    core::Result<HeraldOptions> defaults = parse({});
    ASSERT_TRUE(defaults);
    HeraldOptions running = defaults.value();
    apply_live_options(running, *fresh);
    for (const OptionKey& k : option_keys()) {
        if (k.reload == Reload::kLive) {
            EXPECT_EQ(k.value(running), k.value(*fresh)) << k.key.flag;
        }
    }
}

}  // namespace
}  // namespace herald::tools
