// session_factory: a pool of SOCI connections and the worker threads that use them.
#pragma once

#include <asio_soci/database_url.hpp>
#include <asio_soci/detail/core.hpp>
#include <asio_soci/detail/operations.hpp>
#include <asio_soci/pool_options.hpp>
#include <asio_soci/session.hpp>
#include <asio_soci/stats.hpp>

#include <asio/async_result.hpp>
#include <asio/use_awaitable.hpp>

#include <atomic>
#include <memory>
#include <string_view>

namespace asio_soci {

class session_factory;

namespace detail {

/// The library's way into its public classes' internals.
struct access {
    static const std::shared_ptr<pool>& pool_of(const session_factory& factory) noexcept;
};

/// async_acquire's operation: waits in the pool's FIFO for a connection.
template <class Handler, class Fallback>
class acquire_op final : public acquire_waiter, public completion_target {
    using allocation = op_allocation<acquire_op, Handler>;

public:
    acquire_op(typename allocation::allocator alloc, Handler&& handler, const Fallback& fallback,
               std::shared_ptr<pool> owner)
        : allocator_(alloc), holder_(std::move(handler), fallback), pool_(std::move(owner)) {}

    static void start(Handler&& handler, const Fallback& fallback, std::shared_ptr<pool> owner) {
        auto* op = allocation::create(handler, std::move(handler), fallback, std::move(owner));
        op->holder_.template start<canceller>(op);
        acquire(*op->pool_, *op);
    }

    void granted(connection_slot& slot) override {
        session_ = asio_soci::session{lease_tag{}, pool_, slot};
        complete();
    }

    void failed(std::exception_ptr error) override {
        error_ = std::move(error);
        complete();
    }

    void cancel_for_shutdown() noexcept override { cancel_acquire(*pool_, *this); }

    void discard() noexcept override {
        holder_.cancellation_slot().clear();
        allocation::destroy(this);
    }

private:
    friend allocation;

    struct canceller {
        acquire_op* op;
        void operator()(asio::cancellation_type type) const noexcept {
            if (type != asio::cancellation_type::none)
                cancel_acquire(*op->pool_, *op);
        }
    };

    void complete() noexcept {
        // Dropped unrun (its executor shut down): the lease goes back with the operation.
        holder_.post_completion(
            this, [](acquire_op* op) { op->finish(); }, [](acquire_op* op) { op->discard(); });
    }

    void finish() {
        holder_.cancellation_slot().clear();
        // Dropped here, on the caller's thread, after the upcall (see function_op).
        [[maybe_unused]] auto pool_reference = std::move(pool_);
        auto handler = holder_.take();
        auto error = std::move(error_);
        auto leased = std::move(session_);
        allocation::destroy(this);  // Asio's rule: free the operation before the upcall
        std::move(handler)(std::move(error), std::move(leased));
    }

    typename allocation::allocator allocator_;
    handler_holder<Handler, Fallback> holder_;
    std::shared_ptr<pool> pool_;
    asio_soci::session session_;
    std::exception_ptr error_;
};

}  // namespace detail

/// A cheap, copyable handle to a connection pool and its worker thread pool (the
/// seed's `make_session_factory()` result). Copies share the pool; the pool closes
/// when the last copy and the last session from it are gone.
///
/// Destroying the last handle closes the pool after the work still queued on its
/// connections (a rollback after a released session). On a thread that runs an
/// io_context (or a worker), it never waits for that: a busy pool then finishes and
/// closes on a thread of its own, joined at the latest at exit.
class session_factory {
public:
    using executor_type = detail::worker_executor;

    /// An empty handle; assign one from make_session_factory().
    session_factory() = default;

    /// Leases a connection, first come first served. Never blocks: waits in the pool's
    /// FIFO queue for at most pool_options::acquire_timeout. A connection that must be
    /// opened or validated first is opened on a worker thread.
    ///
    /// Completion signature: void(std::exception_ptr, asio_soci::session).
    /// Errors: pool_timeout (pool exhausted), connection_error (cannot connect; the
    /// message names the database, never the password), the on_connect hook's
    /// exception, asio::system_error(operation_aborted) on cancellation,
    /// std::logic_error for an empty factory (delivered to the handler, like the rest).
    /// Executor: the handler's associated executor; without one, a worker thread.
    /// Cancellation: every type. A waiter in the queue leaves it and completes at once
    /// with operation_aborted; while a connection is being opened or checked for it,
    /// the operation completes with operation_aborted once that has ended, and the
    /// connection goes back to the pool.
    template <class CompletionToken = asio::use_awaitable_t<>>
    auto async_acquire(CompletionToken&& token = {}) const {
        return asio::async_initiate<CompletionToken, void(std::exception_ptr, session)>(
            [](auto handler, std::shared_ptr<detail::pool> owner) {
                if (!owner) {
                    detail::post_failure<session>(std::move(handler), detail::empty_factory());
                    return;
                }
                using handler_type = decltype(handler);
                auto fallback = detail::executor_of(*owner);
                detail::acquire_op<handler_type, executor_type>::start(std::move(handler), fallback,
                                                                       std::move(owner));
            },
            token, pool_);
    }

    /// A snapshot of the pool's gauges and counters.
    pool_stats stats() const;
    /// The URL the factory connects to; its to_string() masks the password.
    const database_url& url() const;
    const pool_options& options() const;
    /// The worker threads' executor.
    executor_type get_executor() const;

    explicit operator bool() const noexcept { return pool_ != nullptr; }

private:
    friend session_factory make_session_factory(const database_url&, pool_options);
    friend struct detail::access;
    explicit session_factory(std::shared_ptr<detail::pool> pool) noexcept
        : pool_(std::move(pool)) {}
    // The pool, or std::logic_error for an empty factory.
    const std::shared_ptr<detail::pool>& checked_pool() const;

    std::shared_ptr<detail::pool> pool_;
};

inline const std::shared_ptr<detail::pool>& detail::access::pool_of(
    const session_factory& factory) noexcept {
    return factory.pool_;
}

/// Creates a pool for `url` (see database_url for the forms). Never blocks on the
/// network: connections open lazily, on the worker threads.
/// Throws url_error for a bad URL and std::invalid_argument for bad options.
session_factory make_session_factory(const database_url& url, pool_options options = {});
session_factory make_session_factory(std::string_view url, pool_options options = {});

}  // namespace asio_soci
