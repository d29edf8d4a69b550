// pg::async_query(): a statement run on a session's PostgreSQL connection from the
// caller's io_context, with libpq's asynchronous API: no worker thread, no hand-off.
#pragma once

#include <asio_soci/detail/access.hpp>
#include <asio_soci/detail/pg_parameters.hpp>
#include <asio_soci/detail/pg_query_op.hpp>
#include <asio_soci/pg/result.hpp>
#include <asio_soci/session.hpp>
#include <asio_soci/session_factory.hpp>

#include <asio/async_result.hpp>
#include <asio/use_awaitable.hpp>

#include <cstddef>
#include <exception>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

namespace asio_soci::detail {

/// The statement of a call `async_query(target, sql, parameters..., token)`, encoded,
/// passed with the token (use_awaitable when none was given) to `initiate`.
template <class... ParametersAndToken, class Trailing, class Initiate>
auto pg_call(std::string_view sql, Trailing trailing, Initiate initiate) {
    constexpr std::size_t count = sizeof...(ParametersAndToken);
    constexpr bool token_given = [] {
        if constexpr (count == 0)
            return false;
        else
            return !pg_parameter<
                std::decay_t<std::tuple_element_t<count - 1, std::tuple<ParametersAndToken...>>>>;
    }();
    constexpr std::size_t parameter_count = count - (token_given ? 1 : 0);
    pg_statement statement;
    statement.sql.assign(sql);
    [&]<std::size_t... I>(std::index_sequence<I...>) {
        (encode(statement.parameters, std::get<I>(trailing)), ...);
    }
    (std::make_index_sequence<parameter_count>{});
    if constexpr (token_given)
        return initiate(std::get<parameter_count>(std::move(trailing)), std::move(statement));
    else
        return initiate(asio::use_awaitable_t<>{}, std::move(statement));
}

}  // namespace asio_soci::detail

namespace asio_soci::pg {

/// Runs `sql` with `$1`, `$2`... bound to `parameters` on the session's connection, and
/// completes with its rows. The statement is sent and its result read from the calling
/// coroutine's io_context (libpq's asynchronous API, in pipeline mode): no worker thread
/// takes part, which makes it the fast path for PostgreSQL; as_future() stays the way to
/// run SOCI code (and the only one on SQLite).
///
/// `co_await pg::async_query(s, "select name from users where id = $1", id)`
///
/// Parameters: bool, integers (smallint, integer or bigint, the narrowest that holds the
/// C++ type), float, double, strings (std::string, std::string_view, const char*: sent as
/// text of a type the server infers), std::vector<std::byte> / std::span<const std::byte>
/// (bytea), std::chrono::system_clock::time_point (timestamptz), std::optional of any of
/// them and std::nullopt (NULL). They are copied into the call at once.
///
/// Statements are prepared once per pooled connection (named `asio_soci_N`; up to 256 per
/// connection, any beyond run unprepared) and reused by every later call with the same
/// text and parameter types.
///
/// Sessions: as as_future(), in order with the session's other calls (a zero-hop call
/// waits for the as_future calls submitted before it, and they for it), and with the
/// same transactions: the first call begins one unless the factory is in autocommit mode
/// (`BEGIN` goes out in the same write as the statement), async_commit() ends it.
///
/// Completion signature: void(std::exception_ptr, pg::result).
/// Executor: waits on and completes on the handler's associated I/O executor (for
/// use_awaitable: the coroutine's); a handler without one (use_future, a plain callback)
/// uses the factory's workers instead.
/// Cancellation: every type. Before the statement is sent, it completes at once with
/// operation_aborted and nothing runs. After, the server is asked to cancel it (the
/// request is sent from a thread of its own), and the call completes once the connection
/// is drained: with operation_aborted when the server stopped the statement (inside a
/// transaction, which is then failed: roll it back), or with its real outcome when it had
/// finished first.
/// Errors: SQL errors as as_future() reports them (soci::soci_error with the statement
/// as context; unique_violation and the other database_error types); connection_lost
/// when the connection breaks (it is closed, never handed out again); invalid_session
/// for an empty session; std::invalid_argument for a session that is not PostgreSQL's;
/// pg::conversion_error for an unsigned parameter beyond bigint (thrown by the call).
/// Lifetimes: the session must stay alive until the call completes.
template <class... ParametersAndToken>
auto async_query(session& s, std::string_view sql, ParametersAndToken&&... rest) {
    return detail::pg_call<ParametersAndToken...>(
        sql, std::forward_as_tuple(std::forward<ParametersAndToken>(rest)...),
        [&](auto&& token, detail::pg_statement statement) {
            std::vector<detail::pg_statement> statements(1);
            statements.front() = std::move(statement);
            return asio::async_initiate<decltype(token), void(std::exception_ptr, result)>(
                detail::initiate_pg_query<result>{}, token, &s, std::move(statements));
        });
}

/// The same, without a session: the statement runs on a connection of `factory`'s pool
/// as an implicit transaction of its own (it commits when it succeeds, whatever
/// pool_options::autocommit says), so a request that needs one statement holds no
/// connection while it waits.
///
/// `co_await pg::async_query(factory, "select name from users where id = $1", id)`
///
/// Pipelining: the calls made from one io_context share at most
/// pool_options::pipeline_connections connections of the pool. A call made while they
/// are all busy is queued, and everything queued is sent together, each call followed by
/// a sync of its own, when a connection comes free: many requests' statements in one
/// round trip, each still succeeding or failing on its own.
///
/// Completion, executor, parameters and errors: as above (a connection error fails
/// every call sent on the connection that had not answered yet), and pool_timeout for a
/// call that waited pool_options::acquire_timeout in the queue, or found max_waiting
/// calls queued already.
/// Cancellation: every type. A call still queued completes at once with
/// operation_aborted and nothing runs; a call already sent completes with its real
/// outcome (cancelling it on the server would also stop the calls sent with it).
/// Lifetimes: the call keeps the pool alive until it completes.
template <class... ParametersAndToken>
auto async_query(const session_factory& factory, std::string_view sql,
                 ParametersAndToken&&... rest) {
    return detail::pg_call<ParametersAndToken...>(
        sql, std::forward_as_tuple(std::forward<ParametersAndToken>(rest)...),
        [&](auto&& token, detail::pg_statement statement) {
            return asio::async_initiate<decltype(token), void(std::exception_ptr, result)>(
                detail::initiate_pg_pooled_query{}, token, detail::access::pool_of(factory),
                std::move(statement));
        });
}

}  // namespace asio_soci::pg
