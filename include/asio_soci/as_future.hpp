// as_future(): run a function on a session's connection, on a worker thread, and hand
// its result back to the caller's executor.
#pragma once

#include <asio_soci/detail/core.hpp>
#include <asio_soci/detail/operations.hpp>
#include <asio_soci/errors.hpp>
#include <asio_soci/retry_policy.hpp>
#include <asio_soci/session.hpp>
#include <asio_soci/session_factory.hpp>

#include <asio/async_result.hpp>
#include <asio/use_awaitable.hpp>

#include <cstddef>
#include <functional>
#include <tuple>
#include <type_traits>
#include <utility>

namespace asio_soci {

namespace detail {

/// What a session call is: the user's function (autobegins unless the factory is in
/// autocommit mode; a terminal cancellation interrupts it), or a transaction-control
/// call (never autobegins; once started, runs to its real outcome).
enum class session_call { user, transaction_control };

/// The session form of as_future(). The session is read when the operation starts (for
/// a deferred one: when it is launched, not when it is made), so a session released in
/// between cannot lend its next owner's connection.
template <class Fn, class CompletionToken>
auto initiate_session_call(session& s, Fn&& fn, CompletionToken&& token, session_call kind) {
    using traits = offload_traits<Fn>;
    check_offload_function<Fn>();
    if constexpr (traits::invocable) {
        return asio::async_initiate<CompletionToken, typename traits::signature>(
            [](auto handler, session* s, typename traits::function function, session_call kind) {
                if (!*s) {
                    post_failure<typename traits::result>(
                        std::move(handler), std::make_exception_ptr(invalid_session(
                                                "as_future: the session holds no connection")));
                    return;
                }
                using op = function_op<offload_base, decltype(handler), typename traits::function,
                                       worker_executor>;
                const bool user = kind == session_call::user;
                auto* started = op::create(std::move(handler), std::move(function),
                                           executor_of(*s->pool()), s->slot(), user);
                started->autobegin_ = user && !autocommit(*s->pool());
                submit(*s->slot(), *started);
            },
            token, &s, typename traits::function(std::forward<Fn>(fn)), kind);
    }
}

/// The one-shot form's initiation (see as_future(const session_factory&, ...)).
template <class Fn, class CompletionToken>
auto initiate_one_shot(const session_factory& factory, Fn&& fn, const retry_policy& retry,
                       CompletionToken&& token) {
    using traits = offload_traits<Fn>;
    check_offload_function<Fn>();
    if constexpr (traits::invocable) {
        return asio::async_initiate<CompletionToken, typename traits::signature>(
            [](auto handler, std::shared_ptr<pool> owner, typename traits::function function,
               retry_policy retry) {
                if (auto refusal = one_shot_refusal(owner.get(), retry)) {
                    post_failure<typename traits::result>(std::move(handler), std::move(refusal));
                    return;
                }
                using op = function_op<one_shot_base, decltype(handler), typename traits::function,
                                       worker_executor>;
                auto& target = *owner;
                auto* started = op::create(std::move(handler), std::move(function),
                                           executor_of(target), std::move(owner), true, retry);
                acquire(target, *started);
            },
            token, access::pool_of(factory), typename traits::function(std::forward<Fn>(fn)),
            retry);
    }
}

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

}  // namespace detail

/// Runs `fn(soci::session&)` on the session's connection, on the session's strand on
/// the factory's worker threads, after every call submitted before it on that session.
///
/// Transactions (unless the factory is in autocommit mode): when no transaction is
/// open, one begins before fn runs, as SQLAlchemy's sessions autobegin; it lasts until
/// async_commit() or async_rollback(), and whatever is uncommitted when the session
/// goes back is rolled back. Do not begin or end transactions inside fn.
///
/// Completion signature: void(std::exception_ptr, R) where R is fn's decayed result,
/// or void(std::exception_ptr) when fn returns void. fn's exception arrives with its
/// type intact (soci::soci_error stays soci::soci_error).
/// Executor: completes on the handler's associated executor (for use_awaitable: the
/// coroutine's); a handler without one completes on a worker thread.
/// Cancellation: a request, never an abandonment. Before fn starts, any type
/// (terminal, partial, total) takes the call out unrun and completes it at once with
/// asio::error::operation_aborted. While fn runs, only terminal cancellation is
/// honoured: the database is asked to stop the statement (PostgreSQL: a cancel request;
/// SQLite: sqlite3_interrupt), and the operation completes with operation_aborted only
/// after fn has returned, so fn may safely use what the caller owns (capture by
/// reference). What fn did stays in the session's open transaction: roll back (or let
/// the session go back) rather than commit after it.
/// Lifetimes: the session may be destroyed or released while the call runs; the
/// connection goes back to the pool after the call. A deferred call reads the session
/// when it is launched, so the session object must live until then.
/// Errors also include invalid_session, delivered to the handler, when the session is
/// empty as the call starts.
///
/// Arguments: `as_future(s, fn, args..., token)` runs `fn(sql, args...)`. The arguments
/// are copied into the operation (moved when given as rvalues), so that the function
/// needs no captures: `as_future(s, [](soci::session& sql, std::string name) {...},
/// name)`. The last parameter is the completion token unless fn can take it as an
/// argument; without a token, use_awaitable.
template <class Fn, class... ArgumentsAndToken>
auto as_future(session& s, Fn&& fn, ArgumentsAndToken&&... rest) {
    auto initiate = [&s](auto&& function, auto&& token) {
        using token_type = std::decay_t<decltype(token)>;
        constexpr bool policy_given = std::is_same_v<token_type, retry_policy>;
        static_assert(!policy_given,
                      "asio_soci::as_future: a retry_policy applies to the one-shot form "
                      "as_future(factory, fn, policy) only; a session's calls belong to its "
                      "transaction and cannot be rerun alone.");
        if constexpr (!policy_given)
            return detail::initiate_session_call(s, std::forward<decltype(function)>(function),
                                                 std::forward<decltype(token)>(token),
                                                 detail::session_call::user);
    };
    return detail::with_arguments_and_token(initiate, std::forward<Fn>(fn),
                                            std::forward<ArgumentsAndToken>(rest)...);
}

/// The one-shot form (the seed's `with make_session() as session:` block, with all
/// database work on the workers): acquires a connection, begins a transaction, runs
/// `fn(soci::session&)`, commits on success or rolls back on exception, and gives the
/// connection back. With a retry_policy (`as_future(factory, fn, policy, ...)`), a
/// transient failure reruns the whole unit of work (see retry_policy); without one,
/// nothing is retried. Arguments after fn (and the policy) as for the session form:
/// `as_future(factory, fn, [policy,] args..., [token])`.
///
/// Completion signature, executor: as for as_future(session&, ...). Errors also
/// include those of session_factory::async_acquire(), and std::invalid_argument for a
/// retry_policy with max_attempts 0 (delivered to the handler, nothing runs).
/// Cancellation: while waiting for a connection or before fn starts, any type; nothing
/// runs and the operation completes at once with operation_aborted. While fn runs (or
/// waits for a retry), terminal cancellation asks the database to stop, fn is not run
/// again, the transaction is rolled back, and the operation completes with
/// operation_aborted after fn has returned. Once the commit has started, cancellation
/// is ignored and the real outcome is delivered, so "aborted" always means "nothing was
/// committed".
template <class Fn, class... PolicyArgumentsAndToken>
auto as_future(const session_factory& factory, Fn&& fn, PolicyArgumentsAndToken&&... rest) {
    auto with_policy = [&](const retry_policy& retry, auto&&... others) {
        auto initiate = [&](auto&& function, auto&& token) {
            return detail::initiate_one_shot(factory, std::forward<decltype(function)>(function),
                                             retry, std::forward<decltype(token)>(token));
        };
        return detail::with_arguments_and_token(initiate, std::forward<Fn>(fn),
                                                std::forward<decltype(others)>(others)...);
    };
    if constexpr (detail::first_is_retry_policy<PolicyArgumentsAndToken...>())
        return with_policy(std::forward<PolicyArgumentsAndToken>(rest)...);
    else
        return with_policy(retry_policy{.max_attempts = 1},
                           std::forward<PolicyArgumentsAndToken>(rest)...);
}

template <class CompletionToken>
auto session::async_begin(CompletionToken&& token) {
    return detail::initiate_session_call(
        *this, [](soci::session& sql) { detail::begin_explicitly(sql); },
        std::forward<CompletionToken>(token), detail::session_call::transaction_control);
}

template <class CompletionToken>
auto session::async_commit(CompletionToken&& token) {
    return detail::initiate_session_call(
        *this, [](soci::session& sql) { detail::commit_if_open(sql); },
        std::forward<CompletionToken>(token), detail::session_call::transaction_control);
}

template <class CompletionToken>
auto session::async_rollback(CompletionToken&& token) {
    return detail::initiate_session_call(
        *this, [](soci::session& sql) { detail::rollback_if_open(sql); },
        std::forward<CompletionToken>(token), detail::session_call::transaction_control);
}

}  // namespace asio_soci
