// acquire_waiter: a pending acquisition, as the compiled pool sees it.
#pragma once

#include <asio_soci/detail/pool_interface.hpp>

#include <atomic>
#include <exception>

namespace asio_soci::detail {

/// The pool calls exactly one of granted() or failed(), from any thread and without
/// holding its lock, as its last use of the waiter: ownership of the waiter passes with
/// the call. The implementation must not complete its user handler inline (it posts).
class acquire_waiter {
public:
    /// The connection is the waiter's; it owns the lease from now on.
    virtual void granted(connection_slot& slot) = 0;
    /// Timed out, refused, failed to connect, or cancelled (operation_aborted).
    virtual void failed(std::exception_ptr error) = 0;

protected:
    acquire_waiter() = default;
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

/// Queues `w` in the pool's FIFO, or serves it at once.
void acquire(pool& p, acquire_waiter& w);
/// A queued waiter leaves the queue and fails with operation_aborted at once; one whose
/// connection is being opened or checked fails once that has ended.
void cancel_acquire(pool& p, acquire_waiter& w) noexcept;

}  // namespace asio_soci::detail
