// session_factory: a pool of SOCI connections and the worker threads that use them.
#pragma once

#include <asio_soci/database_url.hpp>
#include <asio_soci/detail/access.hpp>
#include <asio_soci/detail/acquire_op.hpp>
#include <asio_soci/detail/pool_interface.hpp>
#include <asio_soci/pool_options.hpp>
#include <asio_soci/pool_stats.hpp>
#include <asio_soci/session.hpp>

#include <asio/async_result.hpp>
#include <asio/use_awaitable.hpp>

#include <atomic>
#include <memory>
#include <string_view>

namespace asio_soci {

class session_factory;

/// A cheap, copyable handle to a connection pool and its worker thread pool (the
/// result of tornado-sqlalchemy's `make_session_factory()`). Copies share the pool; the pool closes
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
            detail::initiate_acquire<session>{}, token, pool_);
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
    friend struct detail::access;
    explicit session_factory(std::shared_ptr<detail::pool> pool) noexcept
        : pool_(std::move(pool)) {}
    // The pool, or std::logic_error for an empty factory.
    const std::shared_ptr<detail::pool>& checked_pool() const;

    std::shared_ptr<detail::pool> pool_;
};

/// Creates a pool for `url` (see database_url for the forms). Never blocks on the
/// network: connections open lazily, on the worker threads.
/// Throws url_error for a bad URL and std::invalid_argument for bad options.
session_factory make_session_factory(const database_url& url, pool_options options = {});
session_factory make_session_factory(std::string_view url, pool_options options = {});

}  // namespace asio_soci
