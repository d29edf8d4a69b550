// A snapshot of a pool's state and counters.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>

namespace asio_soci {

/// Count, mean and maximum of a set of durations.
struct duration_summary {
    std::uint64_t count = 0;
    std::chrono::nanoseconds total{0};
    std::chrono::nanoseconds max{0};

    std::chrono::nanoseconds mean() const noexcept {
        return count == 0 ? std::chrono::nanoseconds{0} : total / static_cast<std::int64_t>(count);
    }
};

/// Returned by session_factory::stats(). The gauges are one consistent snapshot; the
/// counters and summaries are cumulative since the factory was created.
struct pool_stats {
    std::size_t size = 0;     ///< connections the pool may hold (pool_size)
    std::size_t open = 0;     ///< connections currently open
    std::size_t idle = 0;     ///< slots free to be handed out (open or not yet opened)
    std::size_t in_use = 0;   ///< slots leased to sessions, or being opened or reset
    std::size_t waiting = 0;  ///< acquisitions queued for a free slot

    std::uint64_t acquired_total = 0;  ///< successful acquisitions
    std::uint64_t timeouts_total = 0;  ///< acquisitions that waited acquire_timeout in vain
    std::uint64_t rejected_total = 0;  ///< acquisitions refused at once: max_waiting were queued
    std::uint64_t connects_total = 0;  ///< connections opened
    std::uint64_t connect_failures_total = 0;  ///< connection attempts that failed
    std::uint64_t discarded_total = 0;         ///< connections closed as broken or expired
    std::uint64_t retries_total = 0;           ///< units of work rerun under a retry_policy
    /// Sessions given back with uncommitted changes, which the pool rolled back (as
    /// tornado-sqlalchemy would have committed them, each is also logged at debug level).
    std::uint64_t uncommitted_rollbacks_total = 0;

    duration_summary acquire_wait;   ///< from async_acquire() to the lease
    duration_summary call_duration;  ///< user functions run on the workers
};

}  // namespace asio_soci
