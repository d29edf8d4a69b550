// offload_operation: a unit of work for one connection, as the compiled pool sees it. Two
// kinds: a call on a leased session, and the one-shot form's unit of work, which
// acquires its own connection and wraps the call in a transaction.
#pragma once

#include <asio_soci/detail/acquire_waiter.hpp>
#include <asio_soci/detail/pool_interface.hpp>
#include <asio_soci/retry_policy.hpp>

#include <atomic>
#include <cstdint>
#include <exception>

namespace soci {
class session;
}

namespace asio_soci::detail {

/// Run on its connection's strand. Owned by whoever holds it: the slot's queue, the
/// worker running it, then its posted completion.
class offload_operation {
public:
    /// Runs the user's function; keeps its result in the derived object, or its
    /// exception with fail(). Called on a worker thread.
    virtual void execute(soci::session& sql) noexcept = 0;
    /// Posts the user handler: with the error or the result, or with operation_aborted
    /// when `aborted`. Called once, as the caller's last use of the operation: the
    /// completion owns it from then on and frees it before the upcall.
    virtual void complete(bool aborted) noexcept = 0;

protected:
    offload_operation() = default;
    ~offload_operation() = default;

    void fail(std::exception_ptr error) noexcept { error_ = std::move(error); }
    std::exception_ptr take_error() noexcept { return std::move(error_); }

private:
    friend struct core_access;
    /// How the pool runs it on its connection (compiled): a session call autobegins, a
    /// unit of work wraps fn in a transaction and retries it.
    virtual void run_on(connection_slot& slot) noexcept = 0;
    /// Its use of the connection is over (it ran, or was taken out of the queue unrun).
    virtual void done_with(connection_slot& slot) noexcept = 0;

    std::exception_ptr error_;
    // pending -> running -> (cancel_requested | committing) -> finished, or
    // pending -> cancel_requested (the worker will not run it) -> finished, or
    // pending -> cancelled (taken out of the queue unrun)
    std::atomic<int> state_{0};
    // Set when it starts running, so a cancel request can name it.
    std::atomic<std::uint64_t> id_{0};
};

/// as_future(session, fn), async_begin/commit/rollback: runs on a leased connection.
class session_call_operation : public offload_operation {
protected:
    /// `autobegin`: begin a transaction first when none is open (a user's call, the
    /// factory not in autocommit mode).
    explicit session_call_operation(bool autobegin) noexcept : autobegin_(autobegin) {}
    ~session_call_operation() = default;

private:
    void run_on(connection_slot& slot) noexcept final;
    void done_with(connection_slot&) noexcept final {}

    const bool autobegin_;
};

/// The one-shot form as_future(factory, fn): acquire, begin, fn, commit (roll back on
/// error or cancellation), give the connection back; all of it on the worker side.
class one_shot_operation : public acquire_waiter, public offload_operation {
public:
    void granted(connection_slot& slot) final;
    void failed(std::exception_ptr error) final;

protected:
    explicit one_shot_operation(const retry_policy& retry) noexcept : retry_(retry) {}
    ~one_shot_operation() = default;

private:
    friend struct core_access;
    void run_on(connection_slot& slot) noexcept final;
    void done_with(connection_slot& slot) noexcept final;

    const retry_policy retry_;
    std::atomic<connection_slot*> slot_{nullptr};  // set when granted
};

/// Queues `op` on the connection's strand.
void submit(connection_slot& slot, offload_operation& op);
/// Cancellation (see as_future): before fn starts, any request takes the operation out
/// unrun and completes it at once; while fn runs, only an `interrupt` request counts:
/// the database is asked to stop, and the operation completes after fn has returned.
void cancel_offload(connection_slot& slot, offload_operation& op, bool interrupt) noexcept;
/// As cancel_offload(), and while it waits for its connection, as cancel_acquire().
void cancel_one_shot(pool& p, one_shot_operation& op, bool interrupt) noexcept;

}  // namespace asio_soci::detail
