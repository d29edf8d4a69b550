// connection_slot: one pooled connection, its strand, and what is kept with it.
#pragma once

#include "../drivers/native_connection.hpp"
#include "job_queue.hpp"

#include <asio_soci/connection_state.hpp>
#include <asio_soci/detail/pool_interface.hpp>

#include <soci/session.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <typeindex>
#include <vector>

namespace asio_soci::detail {

/// `sql` and `native` are touched only by the slot's current owner: the pool while it
/// is idle (under the pool's mutex), the job running from its queue otherwise.
struct connection_slot {
    explicit connection_slot(pool& owner) : owner(owner) {}

    pool& owner;
    std::unique_ptr<soci::session> sql;  // null: not open
    native_connection native;
    // connection_state<T>() objects; declared after `sql`, so destroyed before it.
    struct kept_state {
        std::type_index type;
        std::unique_ptr<void, state_deleter> object;
    };
    std::vector<kept_state> states;
    clock::time_point opened_at{};
    clock::time_point idle_since{};
    bool connect_retry = false;  // handed over by pool::retry_connect(), not by a request

    job_queue jobs;
    std::uint64_t operations_started = 0;  // only touched by the job running

    // Operations submitted and not yet finished. With none pending and a clean
    // connection, the end of a lease needs no trip through the queue.
    std::atomic<unsigned> pending_ops{0};
    // Written by each operation as it ends: the connection needs a rollback or is
    // broken. Read after pending_ops drops to zero.
    std::atomic<bool> needs_reset{false};
};

/// While alive, `slot` is the connection whose call this worker thread runs: what
/// connection_state() finds (src/core/connection_state.cpp).
class running_on {
public:
    explicit running_on(connection_slot& slot) noexcept;
    ~running_on();
    running_on(const running_on&) = delete;
    running_on& operator=(const running_on&) = delete;
};

}  // namespace asio_soci::detail
