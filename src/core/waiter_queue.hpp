// waiter_queue: the pool's FIFO of acquisitions, intrusive (no allocation), guarded by
// the pool's mutex.
#pragma once

#include <asio_soci/detail/acquire_waiter.hpp>

#include <cstddef>

namespace asio_soci::detail {

class waiter_queue {
public:
    acquire_waiter* front() const noexcept { return head_; }
    std::size_t size() const noexcept { return size_; }
    void push_back(acquire_waiter& w) noexcept;
    /// For a waiter that keeps its place (its turn came, but it must wait again).
    void push_front(acquire_waiter& w) noexcept;
    void remove(acquire_waiter& w) noexcept;

private:
    acquire_waiter* head_ = nullptr;
    acquire_waiter* tail_ = nullptr;
    std::size_t size_ = 0;
};

}  // namespace asio_soci::detail
