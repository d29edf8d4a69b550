// pool_counters: the counters behind pool_stats, updated lock-free by every part of the
// pool.
#pragma once

#include <asio_soci/detail/pool_interface.hpp>
#include <asio_soci/pool_stats.hpp>

#include <atomic>
#include <cstdint>

namespace asio_soci::detail {

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

struct pool_counters {
    std::atomic<std::size_t> open{0};  // connections open now
    std::atomic<std::uint64_t> acquired{0};
    std::atomic<std::uint64_t> timeouts{0};
    std::atomic<std::uint64_t> rejected{0};
    std::atomic<std::uint64_t> connects{0};
    std::atomic<std::uint64_t> connect_failures{0};
    std::atomic<std::uint64_t> discarded{0};
    std::atomic<std::uint64_t> uncommitted_rollbacks{0};
    std::atomic<std::uint64_t> retries{0};
    duration_counter acquire_wait;
    duration_counter call_duration;

    /// Adds one (relaxed: counters order nothing).
    static void count(std::atomic<std::uint64_t>& counter, std::uint64_t n = 1) noexcept {
        counter.fetch_add(n, std::memory_order_relaxed);
    }
    /// Fills the counters' part of `stats` (the gauges are the pool's).
    void copy_to(pool_stats& stats) const noexcept;
};

}  // namespace asio_soci::detail
