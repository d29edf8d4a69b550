// The type-erased seam between the thin templates of the public headers and the
// compiled pool in src/. Templates implement these small interfaces for one handler
// type; everything else (queues, strands, timers, the database) lives in src/.
#pragma once

#include <asio_soci/retry_policy.hpp>

#include <asio/thread_pool.hpp>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <memory>

namespace soci {
class session;
}

namespace asio_soci::detail {

using clock = std::chrono::steady_clock;
using worker_executor = asio::thread_pool::executor_type;

class pool;
struct connection_slot;
struct core_access;  // src/: the only code that drives the state machines below

/// A pending acquisition. The pool calls exactly one of granted() or failed(), from any
/// thread and without holding its lock, as its last use of the waiter: ownership of the
/// waiter passes with the call. The implementation must not complete its user handler
/// inline (it posts).
class acquire_waiter {
public:
    /// The connection is the waiter's; it owns the lease from now on.
    virtual void granted(connection_slot& slot) = 0;
    /// Timed out, refused, failed to connect, or cancelled (operation_aborted).
    virtual void failed(std::exception_ptr error) = 0;

protected:
    ~acquire_waiter() = default;

private:
    friend struct core_access;
    acquire_waiter* prev_ = nullptr;  // intrusive FIFO, guarded by the pool's mutex
    acquire_waiter* next_ = nullptr;
    clock::time_point deadline_{};
    clock::time_point enqueued_at_{};
    // queued -> assigned -> (cancel_requested) -> done, or queued -> done; whoever moves
    // it to done delivers the result.
    std::atomic<int> state_{0};
};

/// A unit of work for one connection, run on that connection's strand. Owned by whoever
/// holds it: the slot's queue, the worker running it, then its posted completion.
class offload_base {
public:
    /// Runs the user's function; stores its result in the derived object or the
    /// exception in error_. Called on a worker thread.
    virtual void execute(soci::session& sql) noexcept = 0;
    /// Posts the user handler: with error_/the result, or with operation_aborted when
    /// `aborted`. Called once, as the caller's last use of the operation: the completion
    /// owns it from then on and frees it before the upcall.
    virtual void complete(bool aborted) noexcept = 0;

    std::exception_ptr error_;
    /// Set by one_shot_base: begin/commit around execute(), give the lease back after.
    bool one_shot_ = false;
    /// Session form: begin a transaction first when none is open (the factory is not in
    /// autocommit mode and the call is the user's, not a transaction-control call).
    bool autobegin_ = false;

protected:
    offload_base() = default;
    ~offload_base() = default;

private:
    friend struct core_access;
    // pending -> running -> (cancel_requested | committing) -> finished, or
    // pending -> cancel_requested (the worker will not run it) -> finished, or
    // pending -> cancelled (taken out of the queue unrun)
    std::atomic<int> state_{0};
    // Set when it starts running, so a cancel request can name it.
    std::atomic<std::uint64_t> id_{0};
};

/// The one-shot form as_future(factory, fn): acquire, begin, fn, commit (roll back on
/// error or cancellation), give the connection back; all of it on the worker side.
class one_shot_base : public acquire_waiter, public offload_base {
public:
    explicit one_shot_base(const retry_policy& retry) noexcept : retry_(retry) { one_shot_ = true; }

    const retry_policy retry_;

    void granted(connection_slot& slot) final;
    void failed(std::exception_ptr error) final;

protected:
    ~one_shot_base() = default;

private:
    friend struct core_access;
    std::atomic<connection_slot*> slot_{nullptr};
};

// Calls into src/ used by the templates.
void submit(connection_slot& slot, offload_base& op);
/// Cancellation (see as_future): before fn starts, any request takes the operation out
/// unrun and completes it at once; while fn runs, only an `interrupt` request counts:
/// the database is asked to stop, and the operation completes after fn has returned.
void cancel_offload(connection_slot& slot, offload_base& op, bool interrupt) noexcept;
void cancel_acquire(pool& p, acquire_waiter& w) noexcept;
void cancel_one_shot(pool& p, one_shot_base& op, bool interrupt) noexcept;
void acquire(pool& p, acquire_waiter& w);
void release(connection_slot& slot) noexcept;
worker_executor executor_of(pool& p) noexcept;
/// True when the pool's sessions run in autocommit mode (pool_options::autocommit).
bool autocommit(const pool& p) noexcept;

/// Begins a transaction (SQLite: BEGIN IMMEDIATE, so writers queue for the lock).
void begin(soci::session& sql);
/// session::async_begin(): begin(), or std::logic_error when a transaction is open.
void begin_explicitly(soci::session& sql);
/// Commits when a transaction is open; otherwise does nothing (no round trip).
void commit_if_open(soci::session& sql);
/// Rolls back when a transaction is open; otherwise does nothing (no round trip).
void rollback_if_open(soci::session& sql);
/// std::logic_error: an operation was started on an empty session_factory.
std::exception_ptr empty_factory();
/// Why the one-shot form cannot start (an empty factory, a policy without attempts),
/// or null.
std::exception_ptr one_shot_refusal(const pool* p, const retry_policy& retry);
/// True for errors a retry_policy retries: serialization failures, deadlocks, busy.
bool is_transient(const std::exception_ptr& error) noexcept;
/// A driver error the library recognises, as the matching database_error type (a
/// PostgreSQL error on a connection that `connection_broken` becomes connection_lost);
/// any other exception unchanged.
std::exception_ptr classify_error(const std::exception_ptr& error, bool connection_broken);

}  // namespace asio_soci::detail
