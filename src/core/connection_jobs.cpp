// The jobs that run on a connection's strand: a call, the preparation of a connection
// for a waiter, the reset after a lease, the close at the pool's end.
#include "pool.hpp"

#include "../drivers/error_classification.hpp"
#include "../drivers/pg_exchange.hpp"
#include "core_access.hpp"

#include <asio_soci/detail/handler_holder.hpp>
#include <asio_soci/errors.hpp>

#include <asio/post.hpp>

#include <spdlog/spdlog.h>

#include <chrono>

namespace asio_soci::detail {

void pool::prepare(connection_slot& slot, acquire_waiter& w) noexcept {
    std::exception_ptr error;
    // An attempt the pool made on its own (retry_connect) fails nobody while other
    // connections are open: the waiter it was made for keeps its place.
    const bool retrying = std::exchange(slot.connect_retry, false);
    try {
        if (slot.sql) {
            if (const char* expired = expiry(slot, clock::now()))
                connector_.close(slot, expired);
            else if ((options_.pre_ping || !slot.native.looks_alive()) &&
                     !slot.native.ping(*slot.sql))
                connector_.close(slot, "failed a ping: closed by the server or the network");
        }
        if (!slot.sql) {
            // After a failed attempt, no new one until the backoff has passed. While other
            // connections are open (the database is up: a connection limit, say), the
            // waiter keeps its place and waits for one of them, or for the next attempt;
            // with none open, it fails at once with the last attempt's reason.
            if (auto refusal = connector_.refusal()) {
                if (counters_.open.load(std::memory_order_relaxed) > 0 && requeue(w, slot))
                    return;
                throw connection_error(*refusal);
            }
            connector_.open(slot);
        }
    } catch (...) {
        error = std::current_exception();
    }
    if (!error) {
        deliver(w, slot);
        return;
    }
    if (retrying && !slot.sql && counters_.open.load(std::memory_order_relaxed) > 0 &&
        requeue(w, slot))
        return;
    give_back(slot);
    const bool cancelled =
        !transition(core_access::state(w), waiter_state::assigned, waiter_state::done);
    core_access::state(w).store(waiter_state::done, std::memory_order_relaxed);
    // The worker keeps no reference to the exception.
    w.failed(cancelled ? operation_aborted() : std::move(error));
}

void pool::end_unfinished_statements(connection_slot& slot) noexcept {
    if (const auto ended = slot.native.end_unfinished_statements())
        logger_->debug("asio_soci: {} statement(s) on {} released with rows unread; reset", ended,
                       url_.to_string());
}

void pool::reset(connection_slot& slot) noexcept {
    if (slot.sql) {
        end_unfinished_statements(slot);
        switch (slot.native.transaction_status()) {
            case transaction_state::idle:
                break;
            case transaction_state::in_transaction:
            case transaction_state::failed:
            case transaction_state::unknown:
                try {
                    if (slot.native.rollback(*slot.sql)) {
                        pool_counters::count(counters_.uncommitted_rollbacks);
                        logger_->debug(
                            "asio_soci: a session went back to the pool of {} with uncommitted "
                            "changes; rolled back (commit with async_commit())",
                            url_.to_string());
                    }
                    if (slot.native.transaction_status() != transaction_state::idle)
                        connector_.close(slot, "still in a transaction after rollback");
                } catch (...) {
                    connector_.close(slot, "rollback failed");
                }
                break;
            case transaction_state::broken:
                connector_.close(slot, "connection lost");
                break;
        }
    }
    slot.needs_reset.store(false, std::memory_order_relaxed);
    give_back(slot);
}

void pool::submit(connection_slot& slot, offload_operation& op) {
    slot.pending_ops.fetch_add(1, std::memory_order_relaxed);
    enqueue(slot, {slot_job::kind::run, &op});
}

void pool::enqueue(connection_slot& slot, slot_job job) {
    // Posted, not deferred: a thread that blocks after queueing (a future waited on in
    // a worker) must not hold the drain in its private queue.
    if (slot.jobs.push(job))
        asio::post(workers_, [this, &slot] { drain(slot); });
}

void pool::drain(connection_slot& slot) noexcept {
    slot_job job;
    while (slot.jobs.next(job)) {
        switch (job.what) {
            case slot_job::kind::run:
                run(slot, *static_cast<offload_operation*>(job.subject));
                break;
            case slot_job::kind::prepare:
                prepare(slot, *static_cast<acquire_waiter*>(job.subject));
                break;
            case slot_job::kind::reset:
                reset(slot);
                break;
            case slot_job::kind::close:
                connector_.close(slot, nullptr);
                break;
            case slot_job::kind::lend:
                // The strand stays taken: end_loan() gives it back.
                start_pg_exchange(slot, *static_cast<pg_operation*>(job.subject));
                return;
            case slot_job::kind::skip:
                break;
        }
    }
}

void pool::run(connection_slot& slot, offload_operation& op) noexcept {
    using namespace offload_state;
    auto& state = core_access::state(op);
    const auto id = ++slot.operations_started;
    core_access::id(op).store(id, std::memory_order_relaxed);
    slot.native.begin_operation(id);
    bool aborted = true;  // unless it runs to the end uncancelled (or past its commit)
    if (transition(state, pending, running)) {
        const auto start = clock::now();
        soci::session& sql = *slot.sql;
        {
            running_on running{slot};
            core_access::run_on(op, slot);
        }
        if (core_access::error(op))
            classify(slot, op);
        const auto elapsed = clock::now() - start;
        counters_.call_duration.add(elapsed);
        const auto threshold = options_.slow_call_threshold;
        if (threshold.count() > 0 && elapsed >= threshold)
            logger_->warn("asio_soci: slow call on {}: {} ms, last query: {}", url_.to_string(),
                          std::chrono::duration_cast<std::chrono::milliseconds>(elapsed).count(),
                          sql.get_last_query());
        aborted = !transition(state, running, finished) && !transition(state, committing, finished);
    }
    state.store(finished, std::memory_order_relaxed);
    // Only a cancel request that found the operation running (and so made it aborted)
    // interrupts it.
    operation_ended(slot, aborted, nullptr);
    core_access::done_with(op,
                           slot);  // the one-shot form: back in the pool before the caller resumes
    op.complete(aborted);          // the completion owns the operation from here on
}

void pool::operation_ended(connection_slot& slot, bool interrupt_requested,
                           const char* unusable) noexcept {
    if (!slot.native.end_operation(interrupt_requested))
        connector_.close(slot, "a cancel request got no answer in time");
    else if (unusable && slot.sql)
        connector_.close(slot, unusable);
    slot.needs_reset.store(slot.sql && slot.native.transaction_status() != transaction_state::idle,
                           std::memory_order_relaxed);
    slot.pending_ops.fetch_sub(1, std::memory_order_release);
}

void pool::classify(connection_slot& slot, offload_operation& op) noexcept {
    try {
        auto& error = core_access::error(op);
        error =
            classify_error(error, slot.native.transaction_status() == transaction_state::broken);
    } catch (...) {  // out of memory: the driver's error as it was
    }
}

void pool::cancel_offload(connection_slot& slot, offload_operation& op, bool interrupt) noexcept {
    using namespace offload_state;
    auto& state = core_access::state(op);
    if (slot.jobs.remove(slot_job::kind::run, &op)) {  // nothing ran: complete at once
        state.store(cancelled, std::memory_order_relaxed);
        slot.pending_ops.fetch_sub(1, std::memory_order_release);
        core_access::done_with(op, slot);
        op.complete(true);
        return;
    }
    // A worker has it: before fn starts, it will see the request and not run fn.
    if (transition(state, pending, cancel_requested) || !interrupt)
        return;
    if (!transition(state, running, cancel_requested))
        return;  // committing or finished: too late, the real outcome will arrive
    slot.native.interrupt(core_access::id(op).load(std::memory_order_relaxed));
}

void pool::lend(connection_slot& slot, pg_operation& op) {
    slot.pending_ops.fetch_add(1, std::memory_order_relaxed);
    if (slot.jobs.try_take())
        start_pg_exchange(slot, op);
    else
        enqueue(slot, {slot_job::kind::lend, &op});
}

bool pool::withdraw(connection_slot& slot, pg_operation& op) noexcept {
    if (!slot.jobs.remove(slot_job::kind::lend, &op))
        return false;
    slot.pending_ops.fetch_sub(1, std::memory_order_release);
    return true;
}

void pool::end_loan(connection_slot& slot, pg_operation& op, bool interrupted, bool aborted,
                    bool close) noexcept {
    auto give_back_strand = [this, &slot, &op, interrupted, aborted, close] {
        operation_ended(slot, interrupted,
                        close ? "a zero-hop call left it in an unknown state" : nullptr);
        // Completed before the strand is given back, as run() does: the next call on the
        // session cannot complete before this one. The completion may end the pool's last
        // session on another thread: ~pool waits for this guard before the slot goes.
        auto pool_alive = asio::make_work_guard(workers_);
        op.complete(aborted);  // the completion owns the operation from here on
        if (slot.jobs.resume())
            asio::post(workers_, [this, &slot] { drain(slot); });
    };
    // Waiting for a cancel request's answer, or closing, blocks: never on the caller's
    // thread.
    if (interrupted || close)
        asio::post(workers_, give_back_strand);
    else
        give_back_strand();
}

}  // namespace asio_soci::detail
