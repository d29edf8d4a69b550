// pool: the connection slots, the FIFO of acquisitions and its timeout, and the jobs
// that open, check, reset and run work on a connection (always on its strand, the
// slot's job_queue). The hand-over of connections is in pool.cpp, the jobs in
// connection_jobs.cpp, how the operations run in offload_operations.cpp.
#pragma once

#include "connection_slot.hpp"
#include "connector.hpp"
#include "job_queue.hpp"
#include "pool_counters.hpp"
#include "waiter_queue.hpp"

#include <asio_soci/database_url.hpp>
#include <asio_soci/detail/acquire_waiter.hpp>
#include <asio_soci/detail/offload_operation.hpp>
#include <asio_soci/detail/pg_operation.hpp>
#include <asio_soci/pool_options.hpp>
#include <asio_soci/pool_stats.hpp>

#include <asio/steady_timer.hpp>
#include <asio/thread_pool.hpp>

#include <chrono>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace spdlog {
class logger;
}

namespace asio_soci::detail {

class pg_pipeline;

class pool {
public:
    pool(database_url url, pool_options options);
    ~pool();
    pool(const pool&) = delete;
    pool& operator=(const pool&) = delete;

    // Leases (pool.cpp).
    void acquire(acquire_waiter& w);
    void cancel_acquire(acquire_waiter& w) noexcept;
    /// The lease's owner is done with the connection (see end_lease() in
    /// pool_interface.hpp).
    void end_lease(connection_slot& slot) noexcept;

    // Work on a leased connection (connection_jobs.cpp).
    void submit(connection_slot& slot, offload_operation& op);
    void cancel_offload(connection_slot& slot, offload_operation& op, bool interrupt) noexcept;

    // The connection lent to a zero-hop call (src/drivers/pg_exchange.cpp), which runs
    // it on the caller's executor instead of a worker (connection_jobs.cpp).
    /// Lends the strand to `op`: at once, on this thread, when nothing runs on it;
    /// otherwise when the work queued before it is done.
    void lend(connection_slot& slot, pg_operation& op);
    /// Takes a queued `op` out unrun; false when a worker has taken it already.
    bool withdraw(connection_slot& slot, pg_operation& op) noexcept;
    /// `op` is done with the connection: the strand goes on, and `op` completes.
    /// `interrupted`: a cancel request was sent (waiting for its answer moves the rest
    /// to a worker); `close`: the connection's state is unknown, so it is closed.
    void end_loan(connection_slot& slot, pg_operation& op, bool interrupted, bool aborted,
                  bool close) noexcept;

    pool_stats stats() const;
    /// True when every connection is back in the pool, with no work queued.
    bool idle() const noexcept;
    worker_executor executor() noexcept { return workers_.get_executor(); }
    const database_url& url() const noexcept { return url_; }
    const pool_options& options() const noexcept { return options_; }
    spdlog::logger& logger() const noexcept { return *logger_; }
    pool_counters& counters() noexcept { return counters_; }
    /// pg::async_query(factory, ...)'s queues (src/drivers/pg_pipeline.cpp).
    pg_pipeline& pipeline() noexcept { return *pipeline_; }
    /// Runs the pool's timers: never waits for a worker.
    asio::thread_pool::executor_type timer_executor() noexcept { return service_.get_executor(); }

private:
    // --- pool.cpp: handing connections over ---
    // Gives `slot` to the first waiter, or makes it idle. Takes the lock.
    void give_back(connection_slot& slot) noexcept;
    // Makes the slot the waiter's: directly, or after opening/validating it on its strand.
    void hand_over(connection_slot& slot, acquire_waiter& w) noexcept;
    // Why the slot's connection must be replaced before use (max_lifetime,
    // idle_timeout), or null.
    const char* expiry(const connection_slot& slot, clock::time_point now) const noexcept;
    bool needs_preparation(connection_slot& slot, clock::time_point now) noexcept;
    void deliver(acquire_waiter& w, connection_slot& slot) noexcept;
    // Puts a waiter whose connection may not be opened yet back at the head of the queue,
    // and schedules the next attempt; false if it was cancelled meanwhile.
    bool requeue(acquire_waiter& w, connection_slot& slot) noexcept;
    void retry_connect();
    // Schedules retry_connect() at `retry_at` unless it is scheduled already.
    void arm_retry_locked(clock::time_point retry_at);
    void arm_timer_locked();
    void on_timer();
    std::exception_ptr make_timeout_error(std::size_t waiting) const;
    // "all N connections to URL in use", or what is true while some are still being
    // opened.
    std::string slots_in_use() const;

    // --- connection_jobs.cpp: the slot's strand and its jobs ---
    void enqueue(connection_slot& slot, slot_job job);
    void drain(connection_slot& slot) noexcept;  // on a worker
    void prepare(connection_slot& slot, acquire_waiter& w) noexcept;
    void run(connection_slot& slot, offload_operation& op) noexcept;
    // An operation (a call, or a zero-hop loan) is done with the connection: waits for
    // its cancel request's answer if `interrupt_requested` (closing the connection when
    // none comes), closes it when `unusable` names why, records whether it needs a reset,
    // and counts the operation out. Only `interrupt_requested` can block.
    void operation_ended(connection_slot& slot, bool interrupt_requested,
                         const char* unusable) noexcept;
    // The driver's error in op as the database_error type it means, if it is one.
    void classify(connection_slot& slot, offload_operation& op) noexcept;
    void reset(connection_slot& slot) noexcept;
    void end_unfinished_statements(connection_slot& slot) noexcept;

    const database_url url_;
    const pool_options options_;
    std::shared_ptr<spdlog::logger> logger_;
    const bool recyclable_;  // false for in-memory SQLite: closing it loses the data
    pool_counters counters_;
    std::vector<std::unique_ptr<connection_slot>> slots_;  // fixed after construction
    connector connector_;

    asio::thread_pool workers_;
    // Runs the acquire-timeout timer, which must not wait for a worker: every worker
    // may be busy with a long statement.
    asio::thread_pool service_{1};

    mutable std::mutex mutex_;
    std::vector<connection_slot*> idle_open_;    // LIFO: the warmest connection first
    std::vector<connection_slot*> idle_closed_;  // slots without a connection
    waiter_queue waiters_;
    asio::steady_timer timer_;
    bool timer_armed_ = false;
    asio::steady_timer retry_timer_;  // the next connect attempt for requeued waiters
    bool retry_armed_ = false;
    // After service_: its queue-timeout timer runs there, and goes before it.
    std::unique_ptr<pg_pipeline> pipeline_;
    static constexpr std::chrono::seconds exhaustion_log_interval{10};
    std::optional<clock::time_point> last_exhaustion_log_;  // guarded by mutex_
};

}  // namespace asio_soci::detail
