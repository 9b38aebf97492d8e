// tools/herald/options: herald's flags parsed into one HeraldOptions, the errors worded as
// herald prints them, and the --help text.
#include <gtest/gtest.h>

#include <fstream>
#include <string>
#include <vector>

#include "tools/herald/options.h"

namespace herald::tools {
namespace {

constexpr unsigned kCpus = 4;
constexpr const char* kSeeHelp = " (see herald --help)";

core::Result<HeraldOptions> parse(std::vector<std::string> args, unsigned cpus = kCpus) {
    args.insert(args.begin(), "herald");
    std::vector<char*> argv;
    for (std::string& s : args) argv.push_back(s.data());
    return parse_options(static_cast<int>(argv.size()), argv.data(), cpus);
}

std::string error_of(std::vector<std::string> args) {
    core::Result<HeraldOptions> o = parse(std::move(args));
    return o ? "(no error)" : o.error();
}

TEST(HeraldOptions, DefaultsToOneWorkerPerCpuOnLocalhost1234) {
    core::Result<HeraldOptions> o = parse({});
    ASSERT_TRUE(o) << o.error();
    EXPECT_EQ(o->workers, kCpus);
    EXPECT_EQ(o->server.listen.to_string(), "127.0.0.1:1234");
    EXPECT_FALSE(o->hub);
    EXPECT_FALSE(o->help);
    EXPECT_FALSE(o->version);
    EXPECT_TRUE(o->multi_process());
    EXPECT_EQ(o->server.max_message, 1u << 20);
}

TEST(HeraldOptions, KernelPathFlags) {
    core::Result<HeraldOptions> o = parse({});
    ASSERT_TRUE(o) << o.error();
    EXPECT_EQ(o->server.zerocopy_threshold, net::ServerOptions::kZeroCopyAuto);
    EXPECT_FALSE(o->server.sqpoll);
    EXPECT_EQ(o->server.busy_poll_us, 0u);
    o = parse({"--zerocopy-threshold", "32KiB", "--sqpoll", "--busy-poll-us", "100"});
    ASSERT_TRUE(o) << o.error();
    EXPECT_EQ(o->server.zerocopy_threshold, 32u << 10);
    EXPECT_TRUE(o->server.sqpoll);
    EXPECT_EQ(o->server.sqpoll_cpu, -1);
    EXPECT_EQ(o->server.busy_poll_us, 100u);
    o = parse({"--zerocopy-threshold=off", "--sqpoll=1"});
    ASSERT_TRUE(o) << o.error();
    EXPECT_EQ(o->server.zerocopy_threshold, net::ServerOptions::kZeroCopyOff);
    EXPECT_EQ(o->server.sqpoll_cpu, 1);
    EXPECT_EQ(error_of({"--zerocopy-threshold", "0"}),
              std::string("bad value '0' for --zerocopy-threshold: expected off, auto or a size "
                          "from 1 to 1GiB such as 16KiB") +
                  kSeeHelp);
    EXPECT_EQ(error_of({"--sqpoll=x"}),
              std::string("bad value 'x' for --sqpoll: expected a CPU number (0 to 4095), on or "
                          "off") +
                  kSeeHelp);
}

TEST(HeraldOptions, OneWorkerWithoutClusterFlagsIsASingleProcess) {
    core::Result<HeraldOptions> o = parse({"--workers", "1"});
    ASSERT_TRUE(o) << o.error();
    EXPECT_FALSE(o->multi_process());
    core::Result<HeraldOptions> one_cpu = parse({}, 1);
    ASSERT_TRUE(one_cpu);
    EXPECT_FALSE(one_cpu->multi_process());
}

TEST(HeraldOptions, ReadsListenAddressAndPortZero) {
    core::Result<HeraldOptions> o = parse({"--listen=127.0.0.1:0"});
    ASSERT_TRUE(o) << o.error();
    EXPECT_EQ(o->server.listen.port(), 0);
}

TEST(HeraldOptions, ReadsSizesWithUnits) {
    core::Result<HeraldOptions> o =
        parse({"--max-message", "64KiB", "--max-backpressure=2MiB", "--recv-buffer-size", "4k",
               "--peer-buffer", "1M", "--ring-size", "1MiB"});
    ASSERT_TRUE(o) << o.error();
    EXPECT_EQ(o->server.max_message, 64u << 10);
    EXPECT_EQ(o->server.max_backpressure, 2u << 20);
    EXPECT_EQ(o->server.recv_buffer_size, 4u << 10);
    EXPECT_EQ(o->hub_options.peer_buffer, 1u << 20);
    EXPECT_EQ(o->ring_size, 1u << 20);
}

TEST(HeraldOptions, ReadsDurationsWithUnits) {
    core::Result<HeraldOptions> o = parse({"--handshake-timeout", "2s", "--close-timeout", "500ms",
                                           "--spin", "0", "--peer-timeout", "1.5s"});
    ASSERT_TRUE(o) << o.error();
    EXPECT_EQ(o->server.handshake_timeout, 2 * core::kSecond);
    EXPECT_EQ(o->server.close_timeout, 500 * core::kMillisecond);
    EXPECT_EQ(o->relay.spin, 0);
    EXPECT_EQ(o->hub_options.peer_timeout, 1500 * core::kMillisecond);
}

TEST(HeraldOptions, ReadsCountsSwitchesAndRecvMode) {
    core::Result<HeraldOptions> o =
        parse({"--max-group-id", "64", "--max-groups-per-conn", "8", "--max-conns", "100",
               "--max-errors", "3", "--pin", "--recv-mode", "poll", "--recv-buffers", "64"});
    ASSERT_TRUE(o) << o.error();
    EXPECT_EQ(o->server.max_group_id, 64u);
    EXPECT_EQ(o->server.max_groups_per_conn, 8u);
    EXPECT_EQ(o->server.max_conns, 100u);
    EXPECT_EQ(o->server.max_errors, 3u);
    EXPECT_TRUE(o->pin);
    EXPECT_EQ(o->server.recv_mode, net::RecvMode::kPoll);
    EXPECT_EQ(o->server.recv_buffers, 64u);
}

TEST(HeraldOptions, ClusterFlagsRunAHubThatReadsInterest) {
    core::Result<HeraldOptions> o =
        parse({"--workers", "1", "--cluster-listen", "127.0.0.1:7001", "--peers",
               "127.0.0.1:7001,,127.0.0.1:7002", "--node-id", "2", "--cluster-name", "east"});
    ASSERT_TRUE(o) << o.error();
    EXPECT_TRUE(o->hub);
    EXPECT_TRUE(o->multi_process());
    EXPECT_TRUE(o->relay.interest);
    EXPECT_TRUE(o->hub_options.cluster_enabled);
    EXPECT_EQ(o->hub_options.peers.size(), 2u);
    EXPECT_EQ(o->hub_options.node_id, 2u);
    EXPECT_EQ(o->hub_options.cluster, "east");
}

TEST(HeraldOptions, ApiListenAloneRunsAHub) {
    core::Result<HeraldOptions> o =
        parse({"--workers", "1", "--api-listen", "127.0.0.1:8080", "--api-token", "secret"});
    ASSERT_TRUE(o) << o.error();
    EXPECT_TRUE(o->hub);
    EXPECT_TRUE(o->hub_options.api_enabled);
    EXPECT_FALSE(o->hub_options.cluster_enabled);
    EXPECT_EQ(o->hub_options.api_token, "secret");
}

TEST(HeraldOptions, NatsEngineRunsAHubWithTheDefaultPrefix) {
    core::Result<HeraldOptions> o =
        parse({"--workers", "1", "--engine", "nats", "--cluster-name", "east", "--nats-url",
               "nats://u:p@127.0.0.1:4222,,tls://tok@10.0.0.2:4222", "--nats-creds", "x.creds"});
    ASSERT_TRUE(o) << o.error();
    EXPECT_TRUE(o->hub);
    EXPECT_TRUE(o->relay.interest);
    EXPECT_FALSE(o->hub_options.cluster_enabled);
    EXPECT_EQ(o->hub_options.engine, channel::Engine::kNats);
    ASSERT_EQ(o->hub_options.nats_urls.size(), 2u);
    EXPECT_EQ(o->hub_options.nats_urls[1], "tls://tok@10.0.0.2:4222");
    EXPECT_EQ(o->hub_options.nats_creds, "x.creds");
    EXPECT_EQ(o->hub_options.nats_prefix, "herald.east.g.");
}

TEST(HeraldOptions, NatsEngineErrorsAreOneClearLine) {
    EXPECT_EQ(error_of({"--engine", "nats"}),
              std::string("--engine nats needs --nats-url") + kSeeHelp);
    EXPECT_EQ(error_of({"--engine", "kafka"}),
              std::string("--engine: expected mesh or nats") + kSeeHelp);
    EXPECT_EQ(error_of({"--nats-url", "nats://127.0.0.1:4222"}),
              std::string("--nats-url needs --engine nats") + kSeeHelp);
    EXPECT_NE(error_of({"--engine", "nats", "--nats-url", "http://x:1"}).find("--nats-url:"),
              std::string::npos);
    EXPECT_NE(error_of({"--engine", "nats", "--nats-url", "nats://x:1", "--nats-prefix", "a.*."})
                  .find("--nats-prefix:"),
              std::string::npos);
    EXPECT_EQ(error_of({"--engine", "nats", "--nats-url", "nats://x:1", "--cluster-listen",
                        "127.0.0.1:1"}),
              std::string("--cluster-listen and --peers are for --engine mesh") + kSeeHelp);
}

TEST(HeraldOptions, OverflowLimitHoldsFourLargestMessages) {
    core::Result<HeraldOptions> o = parse({"--ring-size", "64KiB", "--max-message", "1MiB"});
    ASSERT_TRUE(o) << o.error();
    EXPECT_EQ(o->relay.overflow_limit, 4u << 20);
}

TEST(HeraldOptions, HelpAndVersionStopBeforeAddressesAreResolved) {
    core::Result<HeraldOptions> help = parse({"--help", "--listen", "nonsense"});
    ASSERT_TRUE(help) << help.error();
    EXPECT_TRUE(help->help);
    core::Result<HeraldOptions> version = parse({"--version", "--peers", "x:1"});
    ASSERT_TRUE(version) << version.error();
    EXPECT_TRUE(version->version);
}

TEST(HeraldOptions, FlagErrorsPointAtHelp) {
    EXPECT_EQ(error_of({"--nope"}), std::string("unknown flag --nope") + kSeeHelp);
    EXPECT_EQ(error_of({"--workers"}), std::string("--workers needs a value (N)") + kSeeHelp);
    EXPECT_EQ(error_of({"--pin=1"}), std::string("--pin takes no value") + kSeeHelp);
    EXPECT_EQ(error_of({"stray"}), std::string("unexpected argument 'stray'") + kSeeHelp);
}

TEST(HeraldOptions, OutOfRangeValuesNameTheRange) {
    EXPECT_EQ(error_of({"--workers", "0"}),
              std::string("bad value '0' for --workers: must be between 1 and 256") + kSeeHelp);
    EXPECT_EQ(error_of({"--workers", "many"}),
              std::string("bad value 'many' for --workers: expected a whole number") + kSeeHelp);
    EXPECT_EQ(error_of({"--max-message", "100"}),
              std::string("bad value '100' for --max-message: must be between 126 and "
                          "1073741824") +
                  kSeeHelp);
    EXPECT_EQ(error_of({"--max-message", "big"}),
              std::string("bad value 'big' for --max-message: expected a size such as 1048576, "
                          "64KiB, 1MiB") +
                  kSeeHelp);
}

TEST(HeraldOptions, RejectsMalformedSpecialValues) {
    EXPECT_EQ(error_of({"--ring-size", "100000"}),
              std::string("bad value '100000' for --ring-size: expected a power of two from "
                          "64KiB to 1GiB") +
                  kSeeHelp);
    EXPECT_EQ(error_of({"--spin", "2s"}),
              std::string("bad value '2s' for --spin: expected a duration up to 1s, such as 5us") +
                  kSeeHelp);
    EXPECT_EQ(error_of({"--close-timeout", "0"}),
              std::string("bad value '0' for --close-timeout: expected a positive duration such "
                          "as 10s or 500ms") +
                  kSeeHelp);
    EXPECT_EQ(
        error_of({"--recv-mode", "epoll"}),
        std::string("bad value 'epoll' for --recv-mode: expected auto, ring or poll") + kSeeHelp);
    EXPECT_EQ(error_of({"--recv-buffers", "3"}),
              std::string("bad value '3' for --recv-buffers: expected a power of two from 1 to "
                          "32768") +
                  kSeeHelp);
    EXPECT_EQ(error_of({"--cluster-name="}),
              std::string("bad value '' for --cluster-name: expected 1 to 255 bytes") + kSeeHelp);
}

TEST(HeraldOptions, ABadListenAddressIsNamedWithoutPointingAtHelp) {
    const std::string e = error_of({"--listen", "nowhere"});
    EXPECT_NE(e.find("nowhere"), std::string::npos) << e;
    EXPECT_EQ(e.find(kSeeHelp), std::string::npos) << e;
}

TEST(HeraldOptions, ClusterFlagErrorsPointAtHelp) {
    EXPECT_EQ(error_of({"--peers", "127.0.0.1:7001"}),
              std::string("--peers needs --cluster-listen") + kSeeHelp);
    const std::string e = error_of({"--cluster-listen", "127.0.0.1:1", "--peers", "bad"});
    EXPECT_EQ(e.rfind("--peers: ", 0), 0u) << e;
    EXPECT_TRUE(e.ends_with(kSeeHelp)) << e;
    EXPECT_EQ(error_of({"--api-listen", "bad"}).rfind("--api-listen: ", 0), 0u);
    EXPECT_EQ(error_of({"--admin-listen", "bad"}).rfind("--admin-listen: ", 0), 0u);
}

std::string secret_file(const std::string& name, const std::string& text) {
    const std::string path = "/tmp/herald_options_test_" + name;
    std::ofstream(path) << text;
    return path;
}

TEST(HeraldOptions, AHubOnAPublicClusterAddressNeedsASecretOrTheInsecureSwitch) {
    const std::string e = error_of({"--cluster-listen", "10.1.2.3:7000"});
    EXPECT_NE(e.find("is not a loopback address: give --cluster-secret FILE"), std::string::npos)
        << e;
    EXPECT_TRUE(e.ends_with(kSeeHelp)) << e;
    EXPECT_TRUE(parse({"--cluster-listen", "10.1.2.3:7000", "--cluster-insecure"}));
    EXPECT_TRUE(parse({"--cluster-listen", "127.0.0.2:7000"}));  // loopback: no secret needed
    core::Result<HeraldOptions> o = parse({"--cluster-listen", "10.1.2.3:7000", "--cluster-secret",
                                           secret_file("ok", "0123456789abcdef0123\n")});
    ASSERT_TRUE(o) << o.error();
    EXPECT_EQ(o->hub_options.cluster_secret, "0123456789abcdef0123");
}

TEST(HeraldOptions, AnEmptyShortOrUnreadableSecretFileIsAClearError) {
    EXPECT_NE(error_of({"--cluster-listen", "127.0.0.1:7000", "--cluster-secret",
                        secret_file("empty", "")})
                  .find("at least 16"),
              std::string::npos);
    EXPECT_NE(error_of({"--cluster-listen", "127.0.0.1:7000", "--cluster-secret",
                        secret_file("short", "abc\n")})
                  .find("at least 16"),
              std::string::npos);
    EXPECT_NE(error_of({"--cluster-listen", "127.0.0.1:7000", "--cluster-secret", "/nonexistent/s"})
                  .find("--cluster-secret: cannot read /nonexistent/s"),
              std::string::npos);
}

TEST(HeraldOptions, AdminListenAndItsAliasRunAHubWithTheAdminLimits) {
    core::Result<HeraldOptions> o =
        parse({"--admin-listen", "127.0.0.1:9", "--admin-max-conns", "8",
               "--admin-max-conns-per-ip", "0", "--admin-request-timeout", "2s"});
    ASSERT_TRUE(o) << o.error();
    EXPECT_TRUE(o->hub);
    EXPECT_TRUE(o->hub_options.api_enabled);
    EXPECT_EQ(o->hub_options.api_listen.port(), 9);
    EXPECT_EQ(o->hub_options.admin_max_conns, 8u);
    EXPECT_EQ(o->hub_options.admin_max_conns_per_ip, 0u);
    EXPECT_EQ(o->hub_options.admin_request_timeout, 2 * core::kSecond);
    core::Result<HeraldOptions> alias = parse({"--api-listen", "127.0.0.1:10"});
    ASSERT_TRUE(alias) << alias.error();
    EXPECT_EQ(alias->hub_options.api_listen.port(), 10);
    EXPECT_NE(usage().find("--api-listen"), std::string::npos);
    EXPECT_NE(usage().find("--admin-listen"), std::string::npos);
}

TEST(HeraldOptions, StatsOnWsPortDefaultsToOnOnlyForALoopbackListener) {
    EXPECT_TRUE(parse({"--listen", "127.0.0.1:0"})->server.stats_on_ws_port);
    EXPECT_TRUE(parse({"--listen", "[::1]:0"})->server.stats_on_ws_port);
    EXPECT_FALSE(parse({"--listen", "0.0.0.0:0"})->server.stats_on_ws_port);
    EXPECT_FALSE(parse({"--listen", "10.1.2.3:0"})->server.stats_on_ws_port);
    EXPECT_TRUE(
        parse({"--listen", "0.0.0.0:0", "--stats-on-ws-port", "on"})->server.stats_on_ws_port);
    EXPECT_FALSE(
        parse({"--listen", "127.0.0.1:0", "--stats-on-ws-port", "off"})->server.stats_on_ws_port);
    EXPECT_NE(error_of({"--stats-on-ws-port", "maybe"}).find("--stats-on-ws-port"),
              std::string::npos);
}

TEST(HeraldOptions, MultiProcessNeedsARingThatHoldsTheLongestGroupId) {
    core::Result<HeraldOptions> o = parse({"--ring-size", "64KiB", "--max-group-id", "65535"});
    ASSERT_TRUE(o) << o.error();
    const core::Status fits = check_multi_process(*o);
    ASSERT_FALSE(fits);
    EXPECT_EQ(fits.error(), "--ring-size is too small for --max-group-id");
    core::Result<HeraldOptions> defaults = parse({});
    ASSERT_TRUE(defaults);
    EXPECT_TRUE(check_multi_process(*defaults));
}

TEST(HeraldOptions, UsageDescribesEveryFlagUnderItsSection) {
    const std::string text = usage();
    EXPECT_EQ(text.rfind("herald " HERALD_VERSION " - low-latency WebSocket group broadcaster", 0),
              0u);
    for (const char* row : {"Usage: herald [flags]\n",
                            "  --listen HOST:PORT",
                            "\nProcesses:\n",
                            "  --workers N",
                            "  --pin ",
                            "  --ring-size BYTES",
                            "  --spin DURATION",
                            "\nLimits (each breach has a defined answer, see docs/PROTOCOL.md):\n",
                            "  --max-message BYTES",
                            "  --max-backpressure BYTES",
                            "  --max-group-id BYTES",
                            "  --max-groups-per-conn N",
                            "  --max-conns N",
                            "  --max-errors N",
                            "  --handshake-timeout DURATION",
                            "  --close-timeout DURATION",
                            "\nCluster (docs/CLUSTER.md):\n",
                            "  --cluster-listen HOST:PORT",
                            "  --peers HOST:PORT,...",
                            "  --node-id N",
                            "  --cluster-name NAME",
                            "  --peer-buffer BYTES",
                            "  --peer-timeout DURATION",
                            "  --engine mesh|nats",
                            "  --nats-url URL,...",
                            "  --nats-creds FILE",
                            "  --nats-ca FILE",
                            "  --nats-prefix PREFIX",
                            "  --api-listen HOST:PORT",
                            "  --api-token TOKEN",
                            "\nio_uring:\n",
                            "  --recv-mode auto|ring|poll",
                            "  --recv-buffers N",
                            "  --recv-buffer-size BYTES",
                            "  --zerocopy-threshold BYTES|off|auto",
                            "  --sqpoll[=CPU]",
                            "  --busy-poll-us N",
                            "\nOther:\n",
                            "  --help ",
                            "  --version "}) {
        EXPECT_NE(text.find(row), std::string::npos) << row;
    }
}

}  // namespace
}  // namespace herald::tools
