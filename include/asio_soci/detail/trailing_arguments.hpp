// as_future(..., fn, args..., token): tells the arguments for fn from the completion
// token among the parameters after fn, and binds the arguments to fn.
#pragma once

#include <asio_soci/retry_policy.hpp>

#include <asio/use_awaitable.hpp>

#include <cstddef>
#include <functional>
#include <tuple>
#include <type_traits>
#include <utility>

namespace soci {
class session;
}

namespace asio_soci::detail {

/// `fn` with the arguments as_future() was given after it: copied into the operation, and
/// passed to fn after the soci::session& as lvalues (a retried unit of work gets them
/// again).
template <class Fn, class... Args>
struct function_with_arguments {
    Fn fn;
    std::tuple<Args...> arguments;

    decltype(auto) operator()(
        soci::session& sql) requires std::is_invocable_v<Fn&, soci::session&, Args&...> {
        return std::apply(
            [&](Args&... values) -> decltype(auto) { return std::invoke(fn, sql, values...); },
            arguments);
    }
};

/// Whether the last of as_future()'s trailing parameters is the completion token: it is,
/// unless fn can take them all as its arguments after the soci::session&.
template <class Fn, class... Rest>
constexpr bool last_is_completion_token() {
    if constexpr (sizeof...(Rest) == 0)
        return false;
    else
        return !std::is_invocable_v<std::decay_t<Fn>&, soci::session&, std::decay_t<Rest>&...>;
}

template <class... Rest>
constexpr bool first_is_retry_policy() {
    if constexpr (sizeof...(Rest) == 0)
        return false;
    else
        return std::is_same_v<std::decay_t<std::tuple_element_t<0, std::tuple<Rest...>>>,
                              retry_policy>;
}

/// Calls `initiate(function, token)`: `fn` (with the arguments among `rest` bound, if
/// any) and the completion token among `rest` (the last one, or use_awaitable).
template <class Initiate, class Fn, class... Rest>
auto with_arguments_and_token(Initiate&& initiate, Fn&& fn, Rest&&... rest) {
    constexpr bool token_given = last_is_completion_token<Fn, Rest...>();
    constexpr std::size_t argument_count = sizeof...(Rest) - (token_given ? 1 : 0);
    auto trailing = std::forward_as_tuple(std::forward<Rest>(rest)...);
    auto token = [&]() -> decltype(auto) {
        if constexpr (token_given)
            return std::get<argument_count>(std::move(trailing));
        else
            return asio::use_awaitable_t<>{};
    };
    if constexpr (argument_count == 0) {
        return initiate(std::forward<Fn>(fn), token());
    } else {
        return [&]<std::size_t... I>(std::index_sequence<I...>) {
            using bound = function_with_arguments<
                std::decay_t<Fn>, std::decay_t<std::tuple_element_t<I, decltype(trailing)>>...>;
            return initiate(bound{std::forward<Fn>(fn), {std::get<I>(std::move(trailing))...}},
                            token());
        }
        (std::make_index_sequence<argument_count>{});
    }
}

}  // namespace asio_soci::detail
