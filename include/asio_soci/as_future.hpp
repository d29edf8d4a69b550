// as_future(): run a function on a session's connection, on a worker thread, and hand
// its result back to the caller's executor.
#pragma once

#include <asio_soci/detail/access.hpp>
#include <asio_soci/detail/one_shot_call.hpp>
#include <asio_soci/detail/session_call.hpp>
#include <asio_soci/detail/trailing_arguments.hpp>
#include <asio_soci/retry_policy.hpp>
#include <asio_soci/session.hpp>
#include <asio_soci/session_factory.hpp>

#include <type_traits>
#include <utility>

namespace asio_soci {

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
            return detail::async_session_call(s, std::forward<decltype(function)>(function),
                                              std::forward<decltype(token)>(token),
                                              detail::session_call::user);
    };
    return detail::with_arguments_and_token(initiate, std::forward<Fn>(fn),
                                            std::forward<ArgumentsAndToken>(rest)...);
}

/// The one-shot form (tornado-sqlalchemy's `with make_session() as session:` block, with all
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
            return detail::async_one_shot(detail::access::pool_of(factory),
                                          std::forward<decltype(function)>(function), retry,
                                          std::forward<decltype(token)>(token));
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

}  // namespace asio_soci
