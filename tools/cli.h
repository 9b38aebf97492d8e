// Command-line flags for herald's programs: --name VALUE / --name=VALUE, sizes, durations,
// and a --help generated from the same table that parses.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "core/clock.h"

namespace herald::tools {

// "1048576", "64KiB", "1MiB", "1M", "16k" (k/K/KiB = 1024, M/MiB = 1024^2, G/GiB = 1024^3).
bool parse_size(std::string_view text, std::uint64_t& out);
// "10s", "500ms", "250us", "2m", "1.5s"; a bare number is seconds.
bool parse_duration(std::string_view text, core::Nanos& out);
bool parse_uint(std::string_view text, std::uint64_t& out);

class Flags {
  public:
    // Returns "" when the value is accepted, else why not.
    using Setter = std::function<std::string(std::string_view value)>;

    Flags(std::string program, std::string summary)
        : program_(std::move(program)), summary_(std::move(summary)) {}

    // A flag that takes a value.
    void add(std::string name, std::string value_name, std::string help, Setter set);
    // A flag without a value.
    void add_switch(std::string name, std::string help, std::function<void()> set);
    // A heading printed before the flags added after it.
    void section(std::string title);

    // Parses argv[1..argc). Returns "" or one line naming the bad flag and why.
    std::string parse(int argc, char** argv);
    std::string usage() const;

  private:
    struct Flag {
        std::string name;        // without the leading dashes
        std::string value_name;  // empty: a switch
        std::string help;
        Setter set;
        std::function<void()> on;
        std::string section;  // non-empty: a heading before this flag
    };
    const Flag* find(std::string_view name) const;

    std::string program_;
    std::string summary_;
    std::string pending_section_;
    std::vector<Flag> flags_;
};

}  // namespace herald::tools
