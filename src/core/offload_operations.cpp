// How the two kinds of offload_operation run on their connection: a session call
// (autobegin, then fn), and the one-shot form's unit of work (acquire, begin, fn,
// commit, retry, give the connection back).
#include "core_access.hpp"
#include "pool.hpp"

#include "../drivers/error_classification.hpp"

#include <asio_soci/detail/transaction.hpp>

#include <spdlog/spdlog.h>

#include <algorithm>
#include <random>
#include <thread>

namespace asio_soci::detail {

void session_call_operation::run_on(connection_slot& slot) noexcept {
    if (autobegin_ && slot.native.transaction_status() == transaction_state::idle) {
        // (Open already, or broken: fn meets the error itself.) A plain, on SQLite
        // deferred, BEGIN, so that readers do not queue for the write lock; async_begin()
        // is the way to take it up front.
        try {
            slot.sql->begin();
        } catch (...) {
            fail(std::current_exception());
            return;
        }
    }
    execute(*slot.sql);
}

void one_shot_operation::granted(connection_slot& slot) {
    slot_.store(&slot, std::memory_order_release);
    submit(slot, *this);
}

void one_shot_operation::failed(std::exception_ptr error) {
    core_access::state(static_cast<offload_operation&>(*this))
        .store(offload_state::finished, std::memory_order_relaxed);
    fail(std::move(error));
    complete(false);
}

void one_shot_operation::done_with(connection_slot& slot) noexcept {
    end_lease(slot);
}

void one_shot_operation::run_on(connection_slot& slot) noexcept {
    using namespace offload_state;
    soci::session& sql = *slot.sql;
    auto& owner = slot.owner;
    auto& state = core_access::state(static_cast<offload_operation&>(*this));
    auto& error = core_access::error(*this);
    auto backoff = retry_.initial_backoff;
    for (unsigned attempt = 1;; ++attempt) {
        error = nullptr;
        try {
            begin(sql);
            execute(sql);
            // commit_if_open, not commit: PostgreSQL answers COMMIT of a transaction in
            // which fn swallowed a statement's error with a rollback, and success.
            if (!error && transition(state, running, committing))
                commit_if_open(sql);
        } catch (...) {
            error = std::current_exception();
        }
        const bool commit_started = state.load(std::memory_order_acquire) == committing;
        if (error || !commit_started) {
            try {  // fn or the commit failed, or the caller went away: undo what fn did
                rollback_if_open(sql);
            } catch (...) {
            }
        }
        if (!error || attempt >= retry_.max_attempts || !is_transient(error))
            return;
        // The server refused the attempt as a whole (a commit it reports as failed was
        // not applied): go again, unless the caller has cancelled meanwhile.
        if (commit_started)
            transition(state, committing, running);
        if (state.load(std::memory_order_acquire) != running)
            return;
        pool_counters::count(owner.counters().retries);
        thread_local std::minstd_rand jitter{std::random_device{}()};
        const auto wait = backoff / 2 + backoff / 2 * (jitter() % 1000) / 1000;
        std::this_thread::sleep_for(wait);
        backoff = std::min(backoff * 2, retry_.max_backoff);
        if (state.load(std::memory_order_acquire) != running)
            return;  // cancelled during the backoff: fn must not start again
        owner.logger().debug("asio_soci: retrying a unit of work on {} (attempt {})",
                             owner.url().to_string(), attempt + 1);
    }
}

void cancel_one_shot(pool& p, one_shot_operation& op, bool interrupt) noexcept {
    auto& waiting = core_access::state(static_cast<acquire_waiter&>(op));
    if (waiting.load(std::memory_order_acquire) != waiter_state::done) {
        p.cancel_acquire(op);  // still acquiring: the pool fails it with operation_aborted
        return;
    }
    if (auto* slot = core_access::slot(op).load(std::memory_order_acquire))
        p.cancel_offload(*slot, op, interrupt);
    else  // being granted right now: the worker will see the request before fn starts
        transition(core_access::state(static_cast<offload_operation&>(op)), offload_state::pending,
                   offload_state::cancel_requested);
}

}  // namespace asio_soci::detail
