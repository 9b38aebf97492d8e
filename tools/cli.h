// Command-line flags for herald's programs: --name VALUE / --name=VALUE, sizes, durations,
// and a --help generated from the same table that parses.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/clock.h"
#include "core/result.h"

namespace herald::tools {

// "1048576", "64KiB", "1MiB", "1M", "16k" (k/K/KiB/KB = 1024, M/MiB/MB = 1024^2, G/GiB/GB =
// 1024^3, B = 1): the bytes, or nothing when the text is not such a size or overflows 64 bits.
std::optional<std::uint64_t> parse_size(std::string_view text);
// "10s", "500ms", "250us", "100ns", "2m" / "2min", "1.5s"; a bare number is seconds: the
// nanoseconds, or nothing when the text is not such a duration or exceeds 1e18 ns.
std::optional<core::Nanos> parse_duration(std::string_view text);
// Decimal digits only ("0" to "18446744073709551615"): the number, or nothing.
std::optional<std::uint64_t> parse_uint(std::string_view text);

class Flags {
  public:
    // Takes the flag's value; ok when it is accepted, else an error saying why not (printed
    // after "bad value 'V' for --NAME: ").
    using Setter = std::function<core::Status(std::string_view value)>;

    Flags(std::string program, std::string summary)
        : program_(std::move(program)), summary_(std::move(summary)) {}

    // A flag that takes a value.
    void add(std::string name, std::string value_name, std::string help, Setter set);
    // A flag whose value is optional: --NAME (the setter gets "") or --NAME=VALUE (never a
    // separate argument, so a following flag is not taken for its value).
    void add_optional(std::string name, std::string value_name, std::string help, Setter set);
    // A flag without a value.
    void add_switch(std::string name, std::string help, std::function<void()> set);
    // A heading printed before the flags added after it.
    void section(std::string title);

    // Parses argv[1..argc), calling each flag's setter in order. Ok, or an error at the first
    // bad argument: one line naming the flag and why.
    core::Status parse(int argc, char** argv);
    // The --help text: the summary, "Usage: PROGRAM [flags]", then one row per flag with its
    // help in a column at 30, under its section's heading.
    std::string usage() const;

  private:
    struct Flag {
        std::string name;        // without the leading dashes
        std::string value_name;  // empty: a switch
        std::string help;
        Setter set;
        std::function<void()> on;
        std::string section;    // non-empty: a heading before this flag
        bool optional = false;  // the value may be left out (add_optional)
    };
    const Flag* find(std::string_view name) const;

    std::string program_;
    std::string summary_;
    std::string pending_section_;
    std::vector<Flag> flags_;
};

}  // namespace herald::tools
