// The state machines of the operations declared in include/asio_soci/detail/, and the
// one way the compiled core reaches their private parts.
#pragma once

#include <asio_soci/detail/acquire_waiter.hpp>
#include <asio_soci/detail/offload_operation.hpp>

#include <atomic>
#include <cstdint>
#include <exception>

namespace asio_soci::detail {

namespace waiter_state {
constexpr int queued = 0;            // in the FIFO; only the pool (under its lock) may take it out
constexpr int assigned = 1;          // holds a slot that is being handed over
constexpr int cancel_requested = 2;  // assigned, and cancelled: fails once the hand-over ends
constexpr int done = 3;              // granted() or failed() has been called, or is being called
}  // namespace waiter_state

namespace offload_state {
constexpr int pending = 0;
constexpr int running = 1;
constexpr int cancel_requested = 2;  // completes with operation_aborted when the worker is done
constexpr int committing = 3;        // past the point of no return: cancellation is ignored
constexpr int finished = 4;
constexpr int cancelled = 5;  // taken out of its queue unrun
}  // namespace offload_state

inline bool transition(std::atomic<int>& state, int from, int to) noexcept {
    return state.compare_exchange_strong(from, to, std::memory_order_acq_rel);
}

struct core_access {
    static std::atomic<int>& state(acquire_waiter& w) noexcept { return w.state_; }
    static acquire_waiter*& prev(acquire_waiter& w) noexcept { return w.prev_; }
    static acquire_waiter*& next(acquire_waiter& w) noexcept { return w.next_; }
    static clock::time_point& deadline(acquire_waiter& w) noexcept { return w.deadline_; }
    static clock::time_point& enqueued_at(acquire_waiter& w) noexcept { return w.enqueued_at_; }

    static std::atomic<int>& state(offload_operation& op) noexcept { return op.state_; }
    static std::atomic<std::uint64_t>& id(offload_operation& op) noexcept { return op.id_; }
    static std::exception_ptr& error(offload_operation& op) noexcept { return op.error_; }
    static void run_on(offload_operation& op, connection_slot& slot) noexcept { op.run_on(slot); }
    static void done_with(offload_operation& op, connection_slot& slot) noexcept {
        op.done_with(slot);
    }

    static std::atomic<connection_slot*>& slot(one_shot_operation& op) noexcept { return op.slot_; }
    static const retry_policy& retry(const one_shot_operation& op) noexcept { return op.retry_; }
};

}  // namespace asio_soci::detail
