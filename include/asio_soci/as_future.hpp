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
template <class Fn, class CompletionToken = asio::use_awaitable_t<>>
auto as_future(session& s, Fn&& fn, CompletionToken&& token = {}) {
    return detail::initiate_session_call(
        s, std::forward<Fn>(fn), std::forward<CompletionToken>(token), detail::session_call::user);
}

/// The one-shot form (the seed's `with make_session() as session:` block, with all
/// database work on the workers): acquires a connection, begins a transaction, runs
/// `fn(soci::session&)`, commits on success or rolls back on exception, and gives the
/// connection back. With a retry_policy, a transient failure reruns the whole unit of
/// work (see retry_policy); without one, nothing is retried.
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
template <class Fn, class CompletionToken = asio::use_awaitable_t<>>
auto as_future(const session_factory& factory, Fn&& fn, const retry_policy& retry,
               CompletionToken&& token = {}) {
    using traits = detail::offload_traits<Fn>;
    detail::check_offload_function<Fn>();
    if constexpr (traits::invocable) {
        return asio::async_initiate<CompletionToken, typename traits::signature>(
            [](auto handler, std::shared_ptr<detail::pool> owner,
               typename traits::function function, retry_policy retry) {
                if (auto refusal = detail::one_shot_refusal(owner.get(), retry)) {
                    detail::post_failure<typename traits::result>(std::move(handler),
                                                                  std::move(refusal));
                    return;
                }
                using op = detail::function_op<detail::one_shot_base, decltype(handler),
                                               typename traits::function, detail::worker_executor>;
                auto& target = *owner;
                auto* started =
                    op::create(std::move(handler), std::move(function), detail::executor_of(target),
                               std::move(owner), true, retry);
                detail::acquire(target, *started);
            },
            token, detail::access::pool_of(factory),
            typename traits::function(std::forward<Fn>(fn)), retry);
    }
}

/// The one-shot form without retries.
template <class Fn, class CompletionToken = asio::use_awaitable_t<>>
requires(!std::is_same_v<std::decay_t<CompletionToken>, retry_policy>) auto as_future(
    const session_factory& factory, Fn&& fn, CompletionToken&& token = {}) {
    return as_future(factory, std::forward<Fn>(fn), retry_policy{.max_attempts = 1},
                     std::forward<CompletionToken>(token));
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
