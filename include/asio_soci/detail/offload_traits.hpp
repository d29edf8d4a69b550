// What as_future() needs to know about a user function: its completion signature, and
// clear errors for functions it cannot run.
#pragma once

#include <exception>
#include <type_traits>

namespace soci {
class session;
}

namespace asio_soci::detail {

template <class R>
struct offload_signature {
    using type = void(std::exception_ptr, R);
};
template <>
struct offload_signature<void> {
    using type = void(std::exception_ptr);
};

/// What as_future() needs to know about a user function.
template <class Fn>
struct offload_traits {
    using function = std::decay_t<Fn>;
    static constexpr bool invocable = std::is_invocable_v<function&, soci::session&>;
    using result = std::decay_t<typename std::conditional_t<
        invocable, std::invoke_result<function&, soci::session&>, std::type_identity<void>>::type>;
    using signature = typename offload_signature<result>::type;
};

template <class Fn>
constexpr void check_offload_function() {
    using traits = offload_traits<Fn>;
    static_assert(traits::invocable,
                  "asio_soci::as_future: the function must be callable as fn(soci::session&) "
                  "(or as fn(soci::session&, args...) with the arguments given after it). "
                  "Pass a callable (e.g. [](soci::session& sql) { ... }), not the result of "
                  "calling one.");
    static_assert(std::is_void_v<typename traits::result> ||
                      std::is_default_constructible_v<typename traits::result>,
                  "asio_soci::as_future: the function's result must be default-constructible "
                  "(the completion signature is void(std::exception_ptr, T)); wrap it in "
                  "std::optional.");
}

}  // namespace asio_soci::detail
