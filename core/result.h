// Result<T>: a value or a one-line error message, for functions that can fail outside hot paths.
#pragma once

#include <string>
#include <utility>
#include <variant>

#include "core/assert.h"

namespace herald::core {

struct Error {
    std::string message;  // one line: the cause, and the fix where there is one
};

template <class T>
class [[nodiscard]] Result {
  public:
    Result(T value) : v_(std::move(value)) {}      // NOLINT: implicit by design
    Result(Error error) : v_(std::move(error)) {}  // NOLINT: implicit by design

    bool ok() const noexcept { return v_.index() == 0; }
    explicit operator bool() const noexcept { return ok(); }

    T& value() & {
        HERALD_ASSERT(ok());
        return std::get<0>(v_);
    }
    T&& value() && {
        HERALD_ASSERT(ok());
        return std::get<0>(std::move(v_));
    }
    T* operator->() { return &value(); }
    T& operator*() & { return value(); }

    const std::string& error() const {
        HERALD_ASSERT(!ok());
        return std::get<1>(v_).message;
    }

  private:
    std::variant<T, Error> v_;
};

// Result<void>: success, or a one-line error message (start-up steps with nothing to return).
template <>
class [[nodiscard]] Result<void> {
  public:
    Result() = default;
    Result(Error error) : error_(std::move(error)), failed_(true) {}  // NOLINT: implicit by design

    bool ok() const noexcept { return !failed_; }
    explicit operator bool() const noexcept { return ok(); }

    const std::string& error() const {
        HERALD_ASSERT(failed_);
        return error_.message;
    }

  private:
    Error error_;
    bool failed_ = false;
};

using Status = Result<void>;  // what a fallible start-up step with no value returns

}  // namespace herald::core
