// The connection pool: slots, the FIFO of waiters, the acquire-timeout timer, and the
// jobs that open, reset and run work on connections (always on the slot's strand).
#pragma once

#include "backend.hpp"

#include <asio_soci/database_url.hpp>
#include <asio_soci/detail/core.hpp>
#include <asio_soci/pool_options.hpp>
#include <asio_soci/stats.hpp>

#include <asio/steady_timer.hpp>
#include <asio/strand.hpp>
#include <asio/thread_pool.hpp>

#include <soci/session.h>

#include <atomic>
#include <memory>
#include <mutex>
#include <vector>

namespace asio_soci::detail {

/// One pooled connection. `sql` and `native` are touched only by the slot's current
/// owner: the pool while it is idle (under the pool's mutex), its strand otherwise.
struct connection_slot {
    connection_slot(pool& owner, worker_executor workers) : owner(owner), strand(workers) {}

    pool& owner;
    asio::strand<worker_executor> strand;
    std::unique_ptr<soci::session> sql;  // null: not open
    native_connection native;
    clock::time_point opened_at{};
    clock::time_point idle_since{};

    // Operations submitted and not yet finished on the strand. With none pending and a
    // clean connection, a release needs no trip to the strand.
    std::atomic<unsigned> pending_ops{0};
    // Written on the strand after each operation: the connection needs a rollback or
    // is broken. Read after pending_ops drops to zero.
    std::atomic<bool> needs_reset{false};
};

/// Lock-free accumulation of a duration_summary.
class duration_counter {
public:
    void add(clock::duration d) noexcept;
    duration_summary snapshot() const noexcept;

private:
    std::atomic<std::uint64_t> count_{0};
    std::atomic<std::int64_t> total_ns_{0};
    std::atomic<std::int64_t> max_ns_{0};
};

class pool {
public:
    pool(database_url url, pool_options options);
    ~pool();
    pool(const pool&) = delete;
    pool& operator=(const pool&) = delete;

    void acquire(acquire_waiter& w);
    void cancel_acquire(acquire_waiter& w) noexcept;
    void release(connection_slot& slot) noexcept;
    void submit(connection_slot& slot, offload_base& op);
    void cancel_offload(connection_slot& slot, offload_base& op) noexcept;

    pool_stats stats() const;
    worker_executor executor() noexcept { return workers_.get_executor(); }
    const database_url& url() const noexcept { return url_; }
    const pool_options& options() const noexcept { return options_; }

private:
    struct waiter_queue {
        acquire_waiter* head = nullptr;
        acquire_waiter* tail = nullptr;
        std::size_t size = 0;
        void push_back(acquire_waiter& w) noexcept;
        void remove(acquire_waiter& w) noexcept;
    };

    // Gives `slot` to the first waiter, or makes it idle. Takes the lock.
    void give_back(connection_slot& slot) noexcept;
    // Makes the slot the waiter's: directly, or after opening/validating it on its strand.
    void hand_over(connection_slot& slot, acquire_waiter& w) noexcept;
    bool needs_preparation(connection_slot& slot, clock::time_point now) noexcept;
    void prepare(connection_slot& slot, acquire_waiter& w) noexcept;  // on the strand
    void run(connection_slot& slot, offload_base& op) noexcept;       // on the strand
    void reset(connection_slot& slot) noexcept;                       // on the strand
    void open(connection_slot& slot);                                 // on the strand
    void close(connection_slot& slot, const char* why) noexcept;      // on the strand
    void deliver(acquire_waiter& w, connection_slot& slot) noexcept;
    void arm_timer_locked();
    void on_timer();
    std::exception_ptr make_timeout_error(std::size_t waiting) const;

    const database_url url_;
    const pool_options options_;
    const connect_settings settings_;
    std::shared_ptr<spdlog::logger> logger_;
    const bool recyclable_;  // false for in-memory SQLite: closing it loses the data

    asio::thread_pool workers_;
    // Runs the acquire-timeout timer and cancel requests, which must not wait for a
    // worker: every worker may be busy with a long statement.
    asio::thread_pool service_{1};

    mutable std::mutex mutex_;
    std::vector<std::unique_ptr<connection_slot>> slots_;
    std::vector<connection_slot*> idle_open_;    // LIFO: the warmest connection first
    std::vector<connection_slot*> idle_closed_;  // slots without a connection
    waiter_queue waiters_;
    asio::steady_timer timer_;
    bool timer_armed_ = false;
    std::atomic<std::size_t> open_count_{0};

    std::atomic<std::uint64_t> acquired_total_{0};
    std::atomic<std::uint64_t> timeouts_total_{0};
    std::atomic<std::uint64_t> connects_total_{0};
    std::atomic<std::uint64_t> connect_failures_total_{0};
    std::atomic<std::uint64_t> discarded_total_{0};
    std::atomic<std::uint64_t> next_operation_id_{1};
    duration_counter acquire_wait_;
    duration_counter call_duration_;
};

}  // namespace asio_soci::detail
