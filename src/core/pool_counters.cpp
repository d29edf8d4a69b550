#include "pool_counters.hpp"

namespace asio_soci::detail {

void duration_counter::add(clock::duration d) noexcept {
    auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(d).count();
    count_.fetch_add(1, std::memory_order_relaxed);
    total_ns_.fetch_add(ns, std::memory_order_relaxed);
    auto max = max_ns_.load(std::memory_order_relaxed);
    while (ns > max && !max_ns_.compare_exchange_weak(max, ns, std::memory_order_relaxed)) {
    }
}

duration_summary duration_counter::snapshot() const noexcept {
    return {count_.load(std::memory_order_relaxed),
            std::chrono::nanoseconds{total_ns_.load(std::memory_order_relaxed)},
            std::chrono::nanoseconds{max_ns_.load(std::memory_order_relaxed)}};
}

void pool_counters::copy_to(pool_stats& s) const noexcept {
    constexpr auto relaxed = std::memory_order_relaxed;
    s.open = open.load(relaxed);
    s.acquired_total = acquired.load(relaxed);
    s.timeouts_total = timeouts.load(relaxed);
    s.rejected_total = rejected.load(relaxed);
    s.connects_total = connects.load(relaxed);
    s.connect_failures_total = connect_failures.load(relaxed);
    s.discarded_total = discarded.load(relaxed);
    s.uncommitted_rollbacks_total = uncommitted_rollbacks.load(relaxed);
    s.retries_total = retries.load(relaxed);
    s.acquire_wait = acquire_wait.snapshot();
    s.call_duration = call_duration.snapshot();
}

}  // namespace asio_soci::detail
