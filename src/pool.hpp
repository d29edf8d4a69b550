// The connection pool: slots, the FIFO of waiters, the acquire-timeout timer, and the
// jobs that open, reset and run work on connections (always through the slot's queue).
#pragma once

#include "backend.hpp"

#include <asio_soci/connection_state.hpp>
#include <asio_soci/database_url.hpp>
#include <asio_soci/detail/core.hpp>
#include <asio_soci/pool_options.hpp>
#include <asio_soci/stats.hpp>

#include <asio/steady_timer.hpp>
#include <asio/thread_pool.hpp>

#include <soci/session.h>

#include <atomic>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <typeindex>
#include <vector>

namespace asio_soci::detail {

/// A job for one connection: what to do, and with what.
struct slot_job {
    enum class kind : std::uint8_t { run, prepare, reset, close, skip };
    kind what;
    void* subject;
    // offload_base* (run), acquire_waiter* (prepare), unused otherwise. A run job whose
    // operation was cancelled before it started becomes a skip.
};

/// One pooled connection. `sql` and `native` are touched only by the slot's current
/// owner: the pool while it is idle (under the pool's mutex), the job running from its
/// queue otherwise.
struct connection_slot {
    explicit connection_slot(pool& owner) : owner(owner) {}

    pool& owner;
    std::unique_ptr<soci::session> sql;  // null: not open
    native_connection native;
    // connection_state<T>() objects; declared after `sql`, so destroyed before it.
    struct kept_state {
        std::type_index type;
        std::unique_ptr<void, state_deleter> object;
    };
    std::vector<kept_state> states;
    clock::time_point opened_at{};
    clock::time_point idle_since{};
    bool connect_retry = false;  // handed over by pool::retry_connect(), not by a request

    // The slot's strand: jobs run one at a time, in order, on the workers. Lighter than
    // asio::strand (one post per burst of jobs, no allocation once the vector has grown).
    std::mutex queue_mutex;
    std::vector<slot_job> queue;  // guarded by queue_mutex; [queue_head, size) pending
    std::size_t queue_head = 0;
    bool draining = false;                 // a worker is running the queue
    std::uint64_t operations_started = 0;  // only touched by the job running

    // Operations submitted and not yet finished. With none pending and a clean
    // connection, a release needs no trip through the queue.
    std::atomic<unsigned> pending_ops{0};
    // Written by each operation as it ends: the connection needs a rollback or is
    // broken. Read after pending_ops drops to zero.
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
    void cancel_offload(connection_slot& slot, offload_base& op, bool interrupt) noexcept;

    pool_stats stats() const;
    /// True when every connection is back in the pool, with no work queued.
    bool idle() const noexcept;
    worker_executor executor() noexcept { return workers_.get_executor(); }
    const database_url& url() const noexcept { return url_; }
    const pool_options& options() const noexcept { return options_; }

private:
    struct waiter_queue {
        acquire_waiter* head = nullptr;
        acquire_waiter* tail = nullptr;
        std::size_t size = 0;
        void push_back(acquire_waiter& w) noexcept;
        void push_front(acquire_waiter& w) noexcept;
        void remove(acquire_waiter& w) noexcept;
    };

    // Gives `slot` to the first waiter, or makes it idle. Takes the lock.
    void give_back(connection_slot& slot) noexcept;
    // Makes the slot the waiter's: directly, or after opening/validating it on its strand.
    void hand_over(connection_slot& slot, acquire_waiter& w) noexcept;
    bool needs_preparation(connection_slot& slot, clock::time_point now) noexcept;
    // Queues a job on the slot; a worker runs the slot's jobs one at a time.
    void enqueue(connection_slot& slot, slot_job job);
    // Takes a run job out of the slot's queue before a worker has it; false if too late.
    bool unqueue(connection_slot& slot, offload_base& op) noexcept;
    void drain(connection_slot& slot) noexcept;  // on a worker
    // The jobs:
    void prepare(connection_slot& slot, acquire_waiter& w) noexcept;
    void run(connection_slot& slot, offload_base& op) noexcept;
    void run_unit_of_work(soci::session& sql, one_shot_base& op) noexcept;
    // Autobegin: begins a transaction when none is open; false (the error in op) if
    // that failed.
    bool begin_if_idle(connection_slot& slot, offload_base& op) noexcept;
    // The driver's error in op as the database_error type it means, if it is one.
    void classify(connection_slot& slot, offload_base& op) noexcept;
    void reset(connection_slot& slot) noexcept;
    void end_unfinished_statements(connection_slot& slot) noexcept;
    void open(connection_slot& slot);
    // Why no connection may be opened now (the backoff after a failed attempt), if so.
    std::optional<std::string> connect_refusal();
    // Puts a waiter whose connection may not be opened yet back at the head of the queue,
    // and schedules the next attempt; false if it was cancelled meanwhile.
    bool requeue(acquire_waiter& w, connection_slot& slot) noexcept;
    void retry_connect();
    // Schedules retry_connect() at `retry_at` unless it is scheduled already.
    void arm_retry_locked(clock::time_point retry_at);
    void close(connection_slot& slot, const char* why) noexcept;
    void deliver(acquire_waiter& w, connection_slot& slot) noexcept;
    void arm_timer_locked();
    void on_timer();
    std::exception_ptr make_timeout_error(std::size_t waiting) const;
    // "all N connections to URL in use", or what is true while some are still being
    // opened.
    std::string slots_in_use() const;

    const database_url url_;
    const pool_options options_;
    const connect_settings settings_;
    std::shared_ptr<spdlog::logger> logger_;
    const bool recyclable_;  // false for in-memory SQLite: closing it loses the data

    asio::thread_pool workers_;
    // Runs the acquire-timeout timer, which must not wait for a worker: every worker
    // may be busy with a long statement.
    asio::thread_pool service_{1};

    mutable std::mutex mutex_;
    std::vector<std::unique_ptr<connection_slot>> slots_;
    std::vector<connection_slot*> idle_open_;    // LIFO: the warmest connection first
    std::vector<connection_slot*> idle_closed_;  // slots without a connection
    waiter_queue waiters_;
    asio::steady_timer timer_;
    bool timer_armed_ = false;
    asio::steady_timer retry_timer_;  // the next connect attempt for requeued waiters
    bool retry_armed_ = false;
    static constexpr std::chrono::seconds exhaustion_log_interval{10};
    std::optional<clock::time_point> last_exhaustion_log_;  // guarded by mutex_
    std::atomic<std::size_t> open_count_{0};

    // Backoff between failed connection attempts: from 50 ms, doubling, to 1 s (so a
    // database that comes back is used again within about a second).
    static constexpr std::chrono::milliseconds min_connect_backoff{50};
    static constexpr std::chrono::milliseconds max_connect_backoff{1000};
    std::mutex connect_mutex_;
    std::chrono::milliseconds connect_backoff_{0};  // guarded by connect_mutex_
    clock::time_point next_connect_attempt_{};      // guarded by connect_mutex_
    std::string last_connect_failure_;              // guarded by connect_mutex_

    std::atomic<std::uint64_t> acquired_total_{0};
    std::atomic<std::uint64_t> timeouts_total_{0};
    std::atomic<std::uint64_t> rejected_total_{0};
    std::atomic<std::uint64_t> connects_total_{0};
    std::atomic<std::uint64_t> connect_failures_total_{0};
    std::atomic<std::uint64_t> discarded_total_{0};
    std::atomic<std::uint64_t> uncommitted_rollbacks_total_{0};
    std::atomic<std::uint64_t> retries_total_{0};
    duration_counter acquire_wait_;
    duration_counter call_duration_;
};

}  // namespace asio_soci::detail
