#pragma once
// Errors as values. A rule failure is a Result, never an exception: every
// Error carries a stable kebab-case `reason` (what RPC users and tests match
// on; documented, never reworded) and a human `detail` that may change.
//
// `fault` keeps "the input is bad" (a peer, a user, a block broke a rule:
// reject it, perhaps penalise the sender) apart from "this node failed"
// (disk, bug: do not blame the peer).

#include <cstdio>
#include <cstdlib>
#include <string>
#include <utility>
#include <variant>

namespace verity {

enum class Fault { input, local };

struct Error {
  std::string reason;  // stable, kebab-case: "insufficient-funds"
  std::string detail;  // for humans; may change between versions
  Fault fault = Fault::input;

  std::string to_string() const { return detail.empty() ? reason : reason + ": " + detail; }
};

inline Error make_error(std::string reason, std::string detail = {}) {
  return Error{std::move(reason), std::move(detail), Fault::input};
}
inline Error local_error(std::string reason, std::string detail = {}) {
  return Error{std::move(reason), std::move(detail), Fault::local};
}

namespace detail {
[[noreturn]] inline void bad_result_access(const Error* e) {
  std::fprintf(stderr, "verity: value() on a failed Result (%s)\n",
               e ? e->to_string().c_str() : "no value");
  std::abort();
}
}  // namespace detail

// Either a T or an Error. Reading the value of a failed Result aborts with
// the error printed: a bug, never silent undefined behaviour.
template <class T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::in_place_index<0>, std::move(value)) {}
  Result(Error error) : v_(std::in_place_index<1>, std::move(error)) {}

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }

  T& value() & { check(); return std::get<0>(v_); }
  const T& value() const& { check(); return std::get<0>(v_); }
  T&& value() && { check(); return std::get<0>(std::move(v_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

  const Error& error() const {
    if (ok()) detail::bad_result_access(nullptr);
    return std::get<1>(v_);
  }

 private:
  void check() const {
    if (!ok()) detail::bad_result_access(&std::get<1>(v_));
  }
  std::variant<T, Error> v_;
};

template <>
class [[nodiscard]] Result<void> {
 public:
  Result() = default;
  Result(Error error) : error_(std::move(error)), failed_(true) {}

  bool ok() const { return !failed_; }
  explicit operator bool() const { return ok(); }
  const Error& error() const {
    if (ok()) detail::bad_result_access(nullptr);
    return error_;
  }

 private:
  Error error_;
  bool failed_ = false;
};

using Status = Result<void>;

}  // namespace verity
