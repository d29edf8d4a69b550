// The calls of include/asio_soci/detail/{pool_interface,acquire_waiter,
// offload_operation}.hpp: the templates' way into the pool.
#include "pool.hpp"

#include <asio_soci/detail/acquire_waiter.hpp>
#include <asio_soci/detail/offload_operation.hpp>
#include <asio_soci/detail/pool_interface.hpp>

#include <stdexcept>

namespace asio_soci::detail {

void acquire(pool& p, acquire_waiter& w) {
    p.acquire(w);
}
void cancel_acquire(pool& p, acquire_waiter& w) noexcept {
    p.cancel_acquire(w);
}
void end_lease(connection_slot& slot) noexcept {
    slot.owner.end_lease(slot);
}
void submit(connection_slot& slot, offload_operation& op) {
    slot.owner.submit(slot, op);
}
void cancel_offload(connection_slot& slot, offload_operation& op, bool interrupt) noexcept {
    slot.owner.cancel_offload(slot, op, interrupt);
}
worker_executor executor_of(pool& p) noexcept {
    return p.executor();
}
std::shared_ptr<pool> keep_through_upcall(std::shared_ptr<pool> reference) noexcept {
    if (reference && reference->executor().running_in_this_thread())
        reference.reset();  // the last one: the pool goes to its reaper (session_factory.cpp)
    return reference;
}
bool autocommit(const pool& p) noexcept {
    return p.options().autocommit;
}

std::exception_ptr empty_factory() {
    return std::make_exception_ptr(
        std::logic_error("asio_soci::session_factory: the factory is empty"));
}

std::exception_ptr one_shot_refusal(const pool* p, const retry_policy& retry) {
    if (!p)
        return empty_factory();
    if (retry.max_attempts == 0)
        return std::make_exception_ptr(
            std::invalid_argument("asio_soci::retry_policy: max_attempts must be at least 1"));
    return nullptr;
}

}  // namespace asio_soci::detail
