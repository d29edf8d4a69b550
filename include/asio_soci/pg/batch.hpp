// pg::batch and pg::async_execute(): several statements sent in one write and answered in
// one round trip (libpq's pipeline mode).
#pragma once

#include <asio_soci/detail/access.hpp>
#include <asio_soci/detail/pg_parameters.hpp>
#include <asio_soci/detail/pg_query_op.hpp>
#include <asio_soci/errors.hpp>
#include <asio_soci/pg/result.hpp>
#include <asio_soci/session.hpp>

#include <asio/async_result.hpp>
#include <asio/use_awaitable.hpp>

#include <cstddef>
#include <exception>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace asio_soci::pg {

/// Statements for async_execute(), each with its parameters (the types async_query()
/// takes), copied in as they are added.
class batch {
public:
    template <class... Parameters>
    requires(asio_soci::detail::pg_parameter<Parameters>&&...) batch& add(
        std::string_view sql, const Parameters&... parameters) {
        auto& statement = statements_.emplace_back();
        statement.sql.assign(sql);
        (encode(statement.parameters, parameters), ...);
        return *this;
    }
    std::size_t size() const noexcept { return statements_.size(); }
    bool empty() const noexcept { return statements_.empty(); }

private:
    friend struct asio_soci::detail::access;
    std::vector<asio_soci::detail::pg_statement> statements_;
};

/// A statement of a batch failed: which one, and (nested, std::rethrow_if_nested) the
/// error it failed with, of the type async_query() would have thrown (unique_violation,
/// soci::soci_error...). The statements after it did not run, and those before it are
/// undone with the transaction (in autocommit mode the batch is one implicit transaction).
class batch_error : public asio_soci::error, public std::nested_exception {
public:
    batch_error(std::size_t index, std::size_t size, std::string sqlstate, const std::string& what)
        : error("pg::async_execute: statement " + std::to_string(index + 1) + " of " +
                std::to_string(size) + " failed (those after it did not run): " + what),
          index_(index),
          sqlstate_(std::move(sqlstate)) {}

    /// The failed statement's position in the batch, from 0.
    std::size_t index() const noexcept { return index_; }
    /// Its SQLSTATE ("23505"); empty when the server sent none.
    const std::string& sqlstate() const noexcept { return sqlstate_; }

private:
    std::size_t index_;
    std::string sqlstate_;
};

/// Runs the statements of `statements` on the session's connection in one round trip:
/// all of them sent in one write, their results read as they come. Completes with one
/// result per statement, in order.
///
/// Everything async_query() says holds (order with the session's other calls,
/// transactions, executor, cancellation, lifetimes), and: in autocommit mode the batch is
/// one implicit transaction (all or nothing); otherwise it runs in the session's
/// transaction like any call. A failing statement fails the whole call with batch_error
/// (which says which, and nests its error); a lost connection fails it with
/// connection_lost; an empty batch completes at once.
///
/// Completion signature: void(std::exception_ptr, std::vector<pg::result>).
template <class CompletionToken = asio::use_awaitable_t<>>
auto async_execute(session& s, batch statements, CompletionToken&& token = {}) {
    using results = std::vector<result>;
    return asio::async_initiate<CompletionToken, void(std::exception_ptr, results)>(
        asio_soci::detail::initiate_pg_query<results>{}, token, &s,
        std::move(asio_soci::detail::access::statements_of(statements)));
}

}  // namespace asio_soci::pg
