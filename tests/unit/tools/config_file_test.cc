#include "tools/config_file.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>

namespace herald::tools {
namespace {

constexpr ConfigKey kSchema[] = {
    {"", "workers", "workers", ConfigType::kInteger},
    {"listen", "address", "listen", ConfigType::kString},
    {"listen", "reuse_port", "reuse-port", ConfigType::kBoolean},
    {"limits", "max_conns", "max-conns", ConfigType::kInteger},
    {"limits", "handshake_timeout", "handshake-timeout", ConfigType::kDuration},
    {"limits", "max_message", "max-message", ConfigType::kSize},
    {"cluster", "peers", "peers", ConfigType::kList},
    {"admin", "token", "api-token", ConfigType::kString},
};

std::vector<std::string> flags_of(std::string_view text) {
    auto r = config_text_flags(text, "herald.toml", kSchema);
    EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error());
    return r.ok() ? r.value() : std::vector<std::string>{};
}

std::string error_of(std::string_view text) {
    auto r = config_text_flags(text, "herald.toml", kSchema);
    EXPECT_FALSE(r.ok());
    return r.ok() ? "" : r.error();
}

TEST(ConfigFile, TurnsEveryKeyTypeIntoItsFlag) {
    auto flags = flags_of(R"(workers = 4
[listen]
address = "0.0.0.0:8080"
reuse_port = true
[limits]
max_conns = 1000
handshake_timeout = "5s"
max_message = "64KiB"
[cluster]
peers = ["a:1", "b:2"]
[admin]
token = "s3cret"
)");
    std::vector<std::string> want = {"--workers=4",           "--api-token=s3cret",
                                     "--peers=a:1,b:2",       "--handshake-timeout=5s",
                                     "--max-conns=1000",      "--max-message=64KiB",
                                     "--listen=0.0.0.0:8080", "--reuse-port"};
    std::sort(flags.begin(), flags.end());  // the order is toml++'s; each key is its own flag
    std::sort(want.begin(), want.end());
    EXPECT_EQ(flags, want);
}

TEST(ConfigFile, FalseBooleanGivesNoFlagAndIntegersPassForSizes) {
    EXPECT_EQ(flags_of("[listen]\nreuse_port = false\n[limits]\nmax_message = 1024\n"),
              std::vector<std::string>{"--max-message=1024"});
}

TEST(ConfigFile, NamesFileLineAndKeyOfUnknownKey) {
    EXPECT_EQ(error_of("[limits]\nmax_conns = 1\nmax_cons = 2\n"),
              "herald.toml:3: unknown key [limits].max_cons");
}

TEST(ConfigFile, NamesFileLineOfUnknownTable) {
    EXPECT_EQ(error_of("workers = 1\n\n[limit]\nmax_conns = 1\n"),
              "herald.toml:3: unknown table [limit]");
}

TEST(ConfigFile, NamesFileLineAndKeyOfWrongType) {
    EXPECT_EQ(error_of("[limits]\nmax_conns = \"many\"\n"),
              "herald.toml:2: [limits].max_conns must be an integer");
    EXPECT_EQ(error_of("[cluster]\npeers = [1, 2]\n"),
              "herald.toml:2: [cluster].peers must be an array of strings");
}

TEST(ConfigFile, RejectsDuplicateKeyNamingTheLine) {
    const std::string e = error_of("[limits]\nmax_conns = 1\nmax_conns = 2\n");
    EXPECT_EQ(e.rfind("herald.toml:3: ", 0), 0u) << e;
}

TEST(ConfigFile, RejectsSyntaxErrorNamingTheLine) {
    const std::string e = error_of("[limits]\nmax_conns = \n");
    EXPECT_EQ(e.rfind("herald.toml:2: ", 0), 0u) << e;
}

TEST(ConfigFile, ReadsAFileAndNamesAMissingOne) {
    const std::string path = testing::TempDir() + "/herald_config_test.toml";
    std::ofstream(path) << "[limits]\nmax_conns = 7\n";
    auto r = config_file_flags(path, kSchema);
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r.value(), std::vector<std::string>{"--max-conns=7"});
    auto missing = config_file_flags(path + ".absent", kSchema);
    ASSERT_FALSE(missing.ok());
    EXPECT_NE(missing.error().find(".absent: cannot read"), std::string::npos);
}

TEST(ConfigFile, RenderedConfigReadsBackToTheSameFlags) {
    const FlagValue values[] = {{"workers", "2"},       {"listen", "127.0.0.1:9000"},
                                {"reuse-port", "true"}, {"handshake-timeout", "5s"},
                                {"peers", "a:1,b:2"},   {"api-token", "q\"uote\\"}};
    const std::string text = render_config(kSchema, values);
    EXPECT_EQ(text,
              "workers = 2\n"
              "\n[listen]\naddress = \"127.0.0.1:9000\"\nreuse_port = true\n"
              "\n[limits]\nhandshake_timeout = \"5s\"\n"
              "\n[cluster]\npeers = [\"a:1\", \"b:2\"]\n"
              "\n[admin]\ntoken = \"q\\\"uote\\\\\"\n");
    const auto flags = flags_of(text);
    EXPECT_NE(std::find(flags.begin(), flags.end(), "--api-token=q\"uote\\"), flags.end());
    EXPECT_EQ(flags.size(), 6u);
}

}  // namespace
}  // namespace herald::tools
