// pg_query_op: pg::async_query()'s operation, the templated half that holds the user's
// handler; the compiled driver (src/drivers/pg_exchange.cpp) runs it.
#pragma once

#include <asio_soci/detail/access.hpp>
#include <asio_soci/detail/handler_holder.hpp>
#include <asio_soci/detail/pg_operation.hpp>
#include <asio_soci/detail/pg_pooled_call.hpp>
#include <asio_soci/errors.hpp>

#include <asio/any_io_executor.hpp>
#include <asio/associated_executor.hpp>
#include <asio/async_result.hpp>
#include <asio/cancellation_type.hpp>

#include <exception>
#include <memory>
#include <stdexcept>
#include <type_traits>
#include <utility>
#include <vector>

namespace asio_soci::detail {

/// Result: pg::result (the first statement's) or std::vector<pg::result> (a batch's).
template <class Result, class Handler, class Fallback>
class pg_query_op final : public pg_operation, public completion_target {
    using allocation = op_allocation<pg_query_op, Handler>;

public:
    pg_query_op(typename allocation::allocator alloc, Handler&& handler, const Fallback& fallback,
                connection_slot& slot, asio::any_io_executor io,
                std::vector<pg_statement> statements, bool autobegin)
        : pg_operation(std::move(io), std::move(statements), autobegin,
                       std::is_same_v<Result, std::vector<pg::result>>),
          allocator_(alloc),
          holder_(std::move(handler), fallback),
          slot_(slot) {}

    static void start(Handler&& handler, const Fallback& fallback, connection_slot& slot,
                      asio::any_io_executor io, std::vector<pg_statement> statements,
                      bool autobegin) {
        auto* op = allocation::create(handler, std::move(handler), fallback, slot, std::move(io),
                                      std::move(statements), autobegin);
        op->holder_.template start<canceller>(op);
        submit_pg(slot, *op);
    }

    void complete(bool aborted) noexcept override {
        holder_.post_completion(
            this, [aborted](pg_query_op* op) { op->finish(aborted); },
            [](pg_query_op* op) { op->discard(); });
    }

    void cancel_for_shutdown() noexcept override { shutdown_pg(slot_, *this); }
    void discard() noexcept override { holder_.free_without_upcall(this); }

private:
    friend allocation;

    struct canceller {
        pg_query_op* op;
        void operator()(asio::cancellation_type type) const noexcept {
            if (type != asio::cancellation_type::none)
                cancel_pg(op->slot_, *op);
        }
    };

    void finish(bool aborted) {
        auto error = aborted ? operation_aborted() : take_error();
        auto results = take_results();
        if (error)
            results.clear();
        if constexpr (std::is_same_v<Result, pg::result>) {
            pg::result first = results.empty() ? pg::result{} : std::move(results.front());
            holder_.free_then_upcall(this, std::move(error), std::move(first));
        } else {
            holder_.free_then_upcall(this, std::move(error), std::move(results));
        }
    }

    typename allocation::allocator allocator_;
    handler_holder<Handler, Fallback> holder_;
    connection_slot& slot_;
};

/// pg::async_query(factory, ...)'s operation: one statement, queued on the pool's
/// pipeline. It keeps the pool alive until its upcall, which drops the reference last.
template <class Handler, class Fallback>
class pg_pooled_query_op final : public pg_pooled_call, public completion_target {
    using allocation = op_allocation<pg_pooled_query_op, Handler>;

public:
    pg_pooled_query_op(typename allocation::allocator alloc, Handler&& handler,
                       const Fallback& fallback, std::shared_ptr<pool> owner,
                       asio::any_io_executor io, pg_statement statement)
        : pg_pooled_call(std::move(owner), std::move(io), std::move(statement)),
          allocator_(alloc),
          holder_(std::move(handler), fallback) {}

    static void start(Handler&& handler, const Fallback& fallback, std::shared_ptr<pool> owner,
                      asio::any_io_executor io, pg_statement statement) {
        auto* op = allocation::create(handler, std::move(handler), fallback, std::move(owner),
                                      std::move(io), std::move(statement));
        op->holder_.template start<canceller>(op);
        submit_pooled_pg(*op);
    }

    void complete() noexcept override {
        holder_.post_completion(
            this, [](pg_pooled_query_op* op) { op->finish(); },
            [](pg_pooled_query_op* op) { op->discard(); });
    }

    void cancel_for_shutdown() noexcept override { shutdown_pooled_pg(*this); }
    void discard() noexcept override { holder_.free_without_upcall(this); }

private:
    friend allocation;

    struct canceller {
        pg_pooled_query_op* op;
        void operator()(asio::cancellation_type type) const noexcept {
            if (type != asio::cancellation_type::none)
                cancel_pooled_pg(*op);
        }
    };

    void finish() {
        // The caller's thread drops the pool reference, after the upcall (as function_op).
        [[maybe_unused]] auto pool_reference = keep_through_upcall(take_owner());
        auto error = take_error();
        holder_.free_then_upcall(this, error, error ? pg::result{} : take_result());
    }

    typename allocation::allocator allocator_;
    handler_holder<Handler, Fallback> holder_;
};

/// The I/O executor a zero-hop call waits on: the handler's, when it has one that can
/// (a coroutine's); otherwise the factory's workers (use_future, a plain callback).
template <class Handler>
asio::any_io_executor pg_io_executor(const Handler& handler, pool& owner) {
    using executor = asio::associated_executor_t<Handler, worker_executor>;
    if constexpr (std::is_convertible_v<executor, asio::any_io_executor>)
        return asio::get_associated_executor(handler, executor_of(owner));
    else
        return executor_of(owner);
}

/// The initiation of pg::async_query() and pg::async_execute(). The session is read when
/// the operation starts.
template <class Result>
struct initiate_pg_query {
    template <class Handler, class Session>
    void operator()(Handler handler, Session* s, std::vector<pg_statement> statements) const {
        connection_slot* slot = access::slot_of(*s);
        pool* owner = access::pool_of(*s).get();
        std::exception_ptr refusal;
        if (!slot)
            refusal = std::make_exception_ptr(
                invalid_session("pg::async_query: the session holds no connection"));
        else if (!is_postgresql(*owner))
            refusal = std::make_exception_ptr(std::invalid_argument(
                "pg::async_query: the session's database is not PostgreSQL (use as_future)"));
        if (refusal) {
            post_failure<Result>(std::move(handler), refusal);
            return;
        }
        if (statements.empty()) {  // an empty batch: nothing to send
            post_failure<Result>(std::move(handler), nullptr);
            return;
        }
        auto io = pg_io_executor(handler, *owner);
        pg_query_op<Result, Handler, worker_executor>::start(
            std::move(handler), executor_of(*owner), *slot, std::move(io), std::move(statements),
            !autocommit(*owner));
    }
};

/// The initiation of pg::async_query(factory, ...).
struct initiate_pg_pooled_query {
    template <class Handler>
    void operator()(Handler handler, std::shared_ptr<pool> owner, pg_statement statement) const {
        std::exception_ptr refusal;
        if (!owner)
            refusal = empty_factory();
        else if (!is_postgresql(*owner))
            refusal = std::make_exception_ptr(std::invalid_argument(
                "pg::async_query: the factory's database is not PostgreSQL (use as_future)"));
        if (refusal) {
            post_failure<pg::result>(std::move(handler), refusal);
            return;
        }
        auto io = pg_io_executor(handler, *owner);
        auto fallback = executor_of(*owner);
        pg_pooled_query_op<Handler, worker_executor>::start(
            std::move(handler), fallback, std::move(owner), std::move(io), std::move(statement));
    }
};

}  // namespace asio_soci::detail
