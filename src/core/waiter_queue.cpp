#include "waiter_queue.hpp"

#include "core_access.hpp"

namespace asio_soci::detail {

void waiter_queue::push_back(acquire_waiter& w) noexcept {
    core_access::prev(w) = tail_;
    core_access::next(w) = nullptr;
    (tail_ ? core_access::next(*tail_) : head_) = &w;
    tail_ = &w;
    ++size_;
}

void waiter_queue::push_front(acquire_waiter& w) noexcept {
    core_access::prev(w) = nullptr;
    core_access::next(w) = head_;
    (head_ ? core_access::prev(*head_) : tail_) = &w;
    head_ = &w;
    ++size_;
}

void waiter_queue::remove(acquire_waiter& w) noexcept {
    auto* prev = core_access::prev(w);
    auto* next = core_access::next(w);
    (prev ? core_access::next(*prev) : head_) = next;
    (next ? core_access::prev(*next) : tail_) = prev;
    core_access::prev(w) = core_access::next(w) = nullptr;
    --size_;
}

}  // namespace asio_soci::detail
