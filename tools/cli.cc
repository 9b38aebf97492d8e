#include "tools/cli.h"

#include <charconv>
#include <cmath>
#include <utility>

namespace herald::tools {

std::optional<std::uint64_t> parse_uint(std::string_view text) {
    std::uint64_t out = 0;
    if (text.empty()) return std::nullopt;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
    if (ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
    return out;
}

std::optional<std::uint64_t> parse_size(std::string_view text) {
    std::size_t digits = 0;
    while (digits < text.size() && text[digits] >= '0' && text[digits] <= '9') ++digits;
    const std::optional<std::uint64_t> value = parse_uint(text.substr(0, digits));
    if (!value) return std::nullopt;
    const std::string_view unit = text.substr(digits);
    unsigned shift = 0;
    if (unit.empty() || unit == "B") {
        shift = 0;
    } else if (unit == "k" || unit == "K" || unit == "KiB" || unit == "KB") {
        shift = 10;
    } else if (unit == "M" || unit == "MiB" || unit == "MB") {
        shift = 20;
    } else if (unit == "G" || unit == "GiB" || unit == "GB") {
        shift = 30;
    } else {
        return std::nullopt;
    }
    if (shift > 0 && *value > (UINT64_MAX >> shift)) return std::nullopt;
    return *value << shift;
}

std::optional<core::Nanos> parse_duration(std::string_view text) {
    std::size_t num = 0;
    while (num < text.size() && ((text[num] >= '0' && text[num] <= '9') || text[num] == '.')) ++num;
    double value = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + num, value);
    if (num == 0 || ec != std::errc() || end != text.data() + num || !std::isfinite(value)) {
        return std::nullopt;
    }
    const std::string_view unit = text.substr(num);
    double scale = 0;
    if (unit.empty() || unit == "s") {
        scale = 1e9;
    } else if (unit == "ms") {
        scale = 1e6;
    } else if (unit == "us") {
        scale = 1e3;
    } else if (unit == "ns") {
        scale = 1;
    } else if (unit == "m" || unit == "min") {
        scale = 60e9;
    } else {
        return std::nullopt;
    }
    const double ns = value * scale;
    if (ns > 1e18) return std::nullopt;
    return static_cast<core::Nanos>(ns);
}

void Flags::add(std::string name, std::string value_name, std::string help, Setter set) {
    flags_.push_back({std::move(name),
                      std::move(value_name),
                      std::move(help),
                      std::move(set),
                      {},
                      std::exchange(pending_section_, {})});
}

void Flags::add_optional(std::string name, std::string value_name, std::string help, Setter set) {
    add(std::move(name), std::move(value_name), std::move(help), std::move(set));
    flags_.back().optional = true;
}

void Flags::add_switch(std::string name, std::string help, std::function<void()> set) {
    flags_.push_back({std::move(name),
                      {},
                      std::move(help),
                      {},
                      std::move(set),
                      std::exchange(pending_section_, {})});
}

void Flags::section(std::string title) { pending_section_ = std::move(title); }

const Flags::Flag* Flags::find(std::string_view name) const {
    for (const Flag& f : flags_) {
        if (f.name == name) return &f;
    }
    return nullptr;
}

core::Status Flags::parse(int argc, char** argv) {
    for (int i = 1; i < argc; ++i) {
        std::string_view arg = argv[i];
        if (!arg.starts_with("--") || arg.size() == 2) {
            return core::Error{"unexpected argument '" + std::string(arg) + "'"};
        }
        arg.remove_prefix(2);
        std::string_view value;
        bool has_value = false;
        if (const auto eq = arg.find('='); eq != std::string_view::npos) {
            value = arg.substr(eq + 1);
            arg = arg.substr(0, eq);
            has_value = true;
        }
        const Flag* flag = find(arg);
        if (flag == nullptr) return core::Error{"unknown flag --" + std::string(arg)};
        if (flag->value_name.empty()) {
            if (has_value) return core::Error{"--" + flag->name + " takes no value"};
            flag->on();
            continue;
        }
        if (!has_value && !flag->optional) {
            if (i + 1 >= argc) {
                return core::Error{"--" + flag->name + " needs a value (" + flag->value_name + ")"};
            }
            value = argv[++i];
        }
        if (core::Status set = flag->set(value); !set) {
            return core::Error{"bad value '" + std::string(value) + "' for --" + flag->name + ": " +
                               set.error()};
        }
    }
    return {};
}

std::string Flags::usage() const {
    std::string out = summary_ + "\n\nUsage: " + program_ + " [flags]\n";
    for (const Flag& f : flags_) {
        if (!f.section.empty()) out += "\n" + f.section + ":\n";
        std::string left = "  --" + f.name;
        if (f.optional) {
            left += "[=" + f.value_name + "]";
        } else if (!f.value_name.empty()) {
            left += " " + f.value_name;
        }
        if (left.size() < 30) {
            left.resize(30, ' ');
        } else {
            left += "\n" + std::string(30, ' ');
        }
        out += left;
        // Continuation lines of the help text line up under its first line.
        for (char ch : f.help) {
            out += ch;
            if (ch == '\n') out += std::string(30, ' ');
        }
        out += "\n";
    }
    return out;
}

}  // namespace herald::tools
