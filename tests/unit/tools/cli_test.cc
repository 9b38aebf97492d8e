// tools/cli: the size, duration and number parsers, and the Flags table (parse and --help).
#include "tools/cli.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace herald::tools {
namespace {

// argv for Flags::parse: argv[0] is the program, then `args`.
class Argv {
  public:
    explicit Argv(std::vector<std::string> args) : strings_(std::move(args)) {
        strings_.insert(strings_.begin(), "prog");
        for (std::string& s : strings_) pointers_.push_back(s.data());
    }
    int argc() const { return static_cast<int>(pointers_.size()); }
    char** argv() { return pointers_.data(); }

  private:
    std::vector<std::string> strings_;
    std::vector<char*> pointers_;
};

core::Status parse(Flags& flags, std::vector<std::string> args) {
    Argv a(std::move(args));
    return flags.parse(a.argc(), a.argv());
}

Flags::Setter keep(std::string& target) {
    return [&target](std::string_view v) -> core::Status {
        target = v;
        return {};
    };
}

TEST(ParseSize, AcceptsPlainBytes) {
    EXPECT_EQ(parse_size("1048576"), 1048576u);
    EXPECT_EQ(parse_size("0"), 0u);
    EXPECT_EQ(parse_size("5B"), 5u);
}

TEST(ParseSize, AcceptsBinaryUnits) {
    EXPECT_EQ(parse_size("16k"), 16u << 10);
    EXPECT_EQ(parse_size("64KiB"), 64u << 10);
    EXPECT_EQ(parse_size("64KB"), 64u << 10);
    EXPECT_EQ(parse_size("1M"), 1u << 20);
    EXPECT_EQ(parse_size("1MiB"), 1u << 20);
    EXPECT_EQ(parse_size("2GiB"), 2ull << 30);
    EXPECT_EQ(parse_size("1G"), 1ull << 30);
}

TEST(ParseSize, RejectsWhatIsNotASize) {
    EXPECT_FALSE(parse_size(""));
    EXPECT_FALSE(parse_size("KiB"));
    EXPECT_FALSE(parse_size("-1"));
    EXPECT_FALSE(parse_size("1.5M"));
    EXPECT_FALSE(parse_size("10X"));
    EXPECT_FALSE(parse_size("10 KiB"));
}

TEST(ParseSize, RejectsSizesOver64Bits) {
    EXPECT_FALSE(parse_size("17179869184G"));  // 2^34 GiB = 2^64
    EXPECT_EQ(parse_size("17179869183G"), 17179869183ull << 30);
}

TEST(ParseDuration, ReadsEveryUnit) {
    EXPECT_EQ(parse_duration("10s"), 10 * core::kSecond);
    EXPECT_EQ(parse_duration("500ms"), 500 * core::kMillisecond);
    EXPECT_EQ(parse_duration("250us"), 250 * core::kMicrosecond);
    EXPECT_EQ(parse_duration("100ns"), 100);
    EXPECT_EQ(parse_duration("2m"), 120 * core::kSecond);
    EXPECT_EQ(parse_duration("2min"), 120 * core::kSecond);
}

TEST(ParseDuration, TakesABareNumberAsSecondsAndFractions) {
    EXPECT_EQ(parse_duration("3"), 3 * core::kSecond);
    EXPECT_EQ(parse_duration("1.5s"), 1500 * core::kMillisecond);
    EXPECT_EQ(parse_duration("0"), 0);
}

TEST(ParseDuration, RejectsWhatIsNotADuration) {
    EXPECT_FALSE(parse_duration(""));
    EXPECT_FALSE(parse_duration("s"));
    EXPECT_FALSE(parse_duration("10h"));
    EXPECT_FALSE(parse_duration("-1s"));
    EXPECT_FALSE(parse_duration("1e3"));
    EXPECT_FALSE(parse_duration("2000000000s"));  // over 1e18 ns
}

TEST(ParseUint, AcceptsDecimalDigitsUpTo64Bits) {
    EXPECT_EQ(parse_uint("0"), 0u);
    EXPECT_EQ(parse_uint("42"), 42u);
    EXPECT_EQ(parse_uint("18446744073709551615"), UINT64_MAX);
}

TEST(ParseUint, RejectsSignsTrailingTextAndOverflow) {
    EXPECT_FALSE(parse_uint(""));
    EXPECT_FALSE(parse_uint("-1"));
    EXPECT_FALSE(parse_uint("+1"));
    EXPECT_FALSE(parse_uint("12a"));
    EXPECT_FALSE(parse_uint("18446744073709551616"));
}

TEST(Flags, TakesAValueAfterASpaceOrAnEqualsSign) {
    std::string a;
    std::string b;
    Flags flags("prog", "summary");
    flags.add("alpha", "A", "first", keep(a));
    flags.add("beta", "B", "second", keep(b));
    ASSERT_TRUE(parse(flags, {"--alpha", "one", "--beta=two=2"}));
    EXPECT_EQ(a, "one");
    EXPECT_EQ(b, "two=2");
}

TEST(Flags, AcceptsAnEmptyValueAfterAnEqualsSign) {
    std::string a = "unset";
    Flags flags("prog", "summary");
    flags.add("alpha", "A", "first", keep(a));
    ASSERT_TRUE(parse(flags, {"--alpha="}));
    EXPECT_EQ(a, "");
}

TEST(Flags, CallsASwitchWithoutAValue) {
    bool on = false;
    Flags flags("prog", "summary");
    flags.add_switch("verbose", "talk more", [&] { on = true; });
    ASSERT_TRUE(parse(flags, {"--verbose"}));
    EXPECT_TRUE(on);
}

TEST(Flags, LaterValuesOverrideEarlierOnes) {
    std::string a;
    Flags flags("prog", "summary");
    flags.add("alpha", "A", "first", keep(a));
    ASSERT_TRUE(parse(flags, {"--alpha", "one", "--alpha", "two"}));
    EXPECT_EQ(a, "two");
}

TEST(Flags, NamesAnUnknownFlag) {
    Flags flags("prog", "summary");
    const core::Status s = parse(flags, {"--nope"});
    ASSERT_FALSE(s);
    EXPECT_EQ(s.error(), "unknown flag --nope");
    const core::Status with_value = parse(flags, {"--nope=1"});
    ASSERT_FALSE(with_value);
    EXPECT_EQ(with_value.error(), "unknown flag --nope");
}

TEST(Flags, NamesAMissingValueAndItsShape) {
    std::string a;
    Flags flags("prog", "summary");
    flags.add("alpha", "HOST:PORT", "first", keep(a));
    const core::Status s = parse(flags, {"--alpha"});
    ASSERT_FALSE(s);
    EXPECT_EQ(s.error(), "--alpha needs a value (HOST:PORT)");
}

TEST(Flags, RejectsAValueForASwitch) {
    Flags flags("prog", "summary");
    flags.add_switch("verbose", "talk more", [] {});
    const core::Status s = parse(flags, {"--verbose=yes"});
    ASSERT_FALSE(s);
    EXPECT_EQ(s.error(), "--verbose takes no value");
}

TEST(Flags, RejectsPositionalArgumentsAndABareDoubleDash) {
    Flags flags("prog", "summary");
    const core::Status word = parse(flags, {"file"});
    ASSERT_FALSE(word);
    EXPECT_EQ(word.error(), "unexpected argument 'file'");
    const core::Status dashes = parse(flags, {"--"});
    ASSERT_FALSE(dashes);
    EXPECT_EQ(dashes.error(), "unexpected argument '--'");
    const core::Status one_dash = parse(flags, {"-h"});
    ASSERT_FALSE(one_dash);
    EXPECT_EQ(one_dash.error(), "unexpected argument '-h'");
}

TEST(Flags, QuotesTheBadValueWithTheSettersReason) {
    Flags flags("prog", "summary");
    flags.add("count", "N", "how many",
              [](std::string_view) -> core::Status { return core::Error{"must be 7"}; });
    const core::Status s = parse(flags, {"--count", "8"});
    ASSERT_FALSE(s);
    EXPECT_EQ(s.error(), "bad value '8' for --count: must be 7");
}

TEST(Flags, StopsAtTheFirstBadArgument) {
    std::string a;
    Flags flags("prog", "summary");
    flags.add("alpha", "A", "first", keep(a));
    ASSERT_FALSE(parse(flags, {"--nope", "--alpha", "one"}));
    EXPECT_EQ(a, "");
}

TEST(Flags, UsageListsSummaryUsageLineSectionsAndAlignedHelp) {
    Flags flags("prog", "prog - does things");
    flags.add("alpha", "A", "first line\nsecond line",
              [](std::string_view) { return core::Status{}; });
    flags.section("More");
    flags.add_switch("verbose", "talk more", [] {});
    const std::string expected =
        "prog - does things\n"
        "\n"
        "Usage: prog [flags]\n"
        "  --alpha A                   first line\n"
        "                              second line\n"
        "\n"
        "More:\n"
        "  --verbose                   talk more\n";
    EXPECT_EQ(flags.usage(), expected);
}

TEST(Flags, UsagePutsTheHelpOfALongFlagOnTheNextLine) {
    Flags flags("prog", "s");
    flags.add("a-very-long-flag-name", "VALUE", "help",
              [](std::string_view) { return core::Status{}; });
    EXPECT_EQ(flags.usage(),
              "s\n\nUsage: prog [flags]\n"
              "  --a-very-long-flag-name VALUE\n"
              "                              help\n");
}

}  // namespace
}  // namespace herald::tools
