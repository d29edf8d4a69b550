#include "pool.hpp"

#include "../drivers/pg_pipeline.hpp"
#include "../logging.hpp"
#include "core_access.hpp"

#include <asio_soci/detail/handler_holder.hpp>
#include <asio_soci/errors.hpp>

#include <asio/error.hpp>

#include <spdlog/spdlog.h>

#include <algorithm>
#include <stdexcept>
#include <string>
#include <utility>

namespace asio_soci::detail {

namespace {

pool_options validated(pool_options options) {
    using namespace std::string_literals;
    if (options.pool_size == 0)
        throw std::invalid_argument("pool_options.pool_size must be at least 1");
    if (options.pipeline_connections == 0)
        throw std::invalid_argument("pool_options.pipeline_connections must be at least 1");
    if (options.acquire_timeout <= std::chrono::milliseconds::zero())
        throw std::invalid_argument("pool_options.acquire_timeout must be positive, got "s +
                                    std::to_string(options.acquire_timeout.count()) + " ms");
    auto non_negative = [](std::chrono::milliseconds value, const char* name) {
        if (value < std::chrono::milliseconds::zero())
            throw std::invalid_argument("pool_options."s + name + " must not be negative, got " +
                                        std::to_string(value.count()) + " ms");
    };
    non_negative(options.max_lifetime, "max_lifetime");
    non_negative(options.idle_timeout, "idle_timeout");
    non_negative(options.slow_call_threshold, "slow_call_threshold");
    return options;
}

std::size_t effective_pool_size(const database_url& url, const pool_options& options) {
    return url.is_sqlite_memory() ? 1 : options.pool_size;
}

}  // namespace

pool::pool(database_url url, pool_options options)
    : url_(std::move(url)),
      options_(validated(std::move(options))),
      logger_(logger_or_default(options_.logger)),
      recyclable_(!url_.is_sqlite_memory()),
      connector_(url_, options_, *logger_, counters_, effective_pool_size(url_, options_)),
      workers_(options_.worker_threads ? options_.worker_threads : options_.pool_size),
      timer_(service_),
      retry_timer_(service_),
      pipeline_(std::make_unique<pg_pipeline>(*this)) {
    const std::size_t size = effective_pool_size(url_, options_);
    if (size != options_.pool_size)
        logger_->info(
            "asio_soci: {} is an in-memory SQLite database: the pool holds one "
            "connection (pool_size {} ignored)",
            url_.to_string(), options_.pool_size);
    slots_.reserve(size);
    idle_closed_.reserve(size);
    idle_open_.reserve(size);
    for (std::size_t i = 0; i < size; ++i)
        slots_.push_back(std::make_unique<connection_slot>(*this));
    // Reversed, so that slot 0 is handed out first: easier to read in logs.
    for (auto it = slots_.rbegin(); it != slots_.rend(); ++it)
        idle_closed_.push_back(it->get());
}

pool::~pool() {
    {
        std::lock_guard lock{mutex_};
        timer_.cancel();
        retry_timer_.cancel();
    }
    pipeline_->stop();
    // Close every connection through its own queue, after whatever is still queued there
    // (an abandoned call, a rollback), then wait for the workers to drain.
    for (auto& slot : slots_)
        enqueue(*slot, {slot_job::kind::close, nullptr});
    workers_.join();
    service_.join();
    logger_->info("asio_soci: closed the pool of {} ({} acquisitions served, {} timed out)",
                  url_.to_string(), counters_.acquired.load(), counters_.timeouts.load());
}

void pool::acquire(acquire_waiter& w) {
    const auto now = clock::now();
    core_access::enqueued_at(w) = now;
    // Also for a waiter served at once: it may queue later (pool::requeue).
    // Saturated: acquire_timeout may be milliseconds::max() ("wait for ever").
    const auto room =
        std::chrono::duration_cast<std::chrono::milliseconds>(clock::time_point::max() - now);
    core_access::deadline(w) = options_.acquire_timeout >= room ? clock::time_point::max()
                                                                : now + options_.acquire_timeout;
    connection_slot* slot = nullptr;
    std::size_t waiting = 0;
    bool queued = false;
    bool log_exhaustion = false;
    {
        std::lock_guard lock{mutex_};
        waiting = waiters_.size();
        const bool must_wait = waiters_.front() || (idle_open_.empty() && idle_closed_.empty());
        const bool queue_full = options_.max_waiting != 0 && waiting >= options_.max_waiting;
        if (must_wait && !queue_full) {
            core_access::state(w).store(waiter_state::queued, std::memory_order_relaxed);
            waiters_.push_back(w);
            arm_timer_locked();
            queued = true;
            // At most once per interval: under load, the queue fills and empties all the time.
            if (!last_exhaustion_log_ || now - *last_exhaustion_log_ >= exhaustion_log_interval) {
                last_exhaustion_log_ = now;
                log_exhaustion = true;
            }
        }
        if (!must_wait) {
            auto& stack = idle_open_.empty() ? idle_closed_ : idle_open_;
            slot = stack.back();
            stack.pop_back();
        }
        if (!queued)
            core_access::state(w).store(must_wait ? waiter_state::done : waiter_state::assigned,
                                        std::memory_order_relaxed);
    }
    if (queued) {  // `w` may be served by now: only the values taken under the lock
        if (log_exhaustion)
            logger_->info(
                "asio_soci: pool exhausted: {}, {} acquisition(s) waiting (logged at most every "
                "{} s)",
                slots_in_use(), waiting + 1,
                std::chrono::duration_cast<std::chrono::seconds>(exhaustion_log_interval).count());
        return;
    }
    if (slot) {
        hand_over(*slot, w);
        return;
    }
    // Refused at once (max_waiting); failed() posts the completion, never runs it here.
    pool_counters::count(counters_.rejected);
    logger_->debug("asio_soci: pool exhausted: refused an acquisition, {} already waiting",
                   waiting);
    w.failed(std::make_exception_ptr(pool_timeout("pool exhausted: " + slots_in_use() + " and " +
                                                  std::to_string(waiting) +
                                                  " acquisitions waiting already (max_waiting " +
                                                  std::to_string(options_.max_waiting) + ")")));
}

void pool::cancel_acquire(acquire_waiter& w) noexcept {
    auto& state = core_access::state(w);
    bool dequeued = false;
    {
        std::lock_guard lock{mutex_};
        if (state.load(std::memory_order_relaxed) == waiter_state::queued) {
            waiters_.remove(w);
            state.store(waiter_state::done, std::memory_order_relaxed);
            dequeued = true;
        }
    }
    if (dequeued) {
        w.failed(operation_aborted());
        return;
    }
    // Being handed over (its connection opens or is checked on a worker): the hand-over
    // ends first, then gives the slot back and fails the waiter with operation_aborted.
    transition(state, waiter_state::assigned, waiter_state::cancel_requested);
}

void pool::give_back(connection_slot& slot) noexcept {
    slot.idle_since = clock::now();
    acquire_waiter* next = nullptr;
    {
        std::lock_guard lock{mutex_};
        if (waiters_.front()) {
            next = waiters_.front();
            waiters_.remove(*next);
            core_access::state(*next).store(waiter_state::assigned, std::memory_order_relaxed);
        } else {
            (slot.sql ? idle_open_ : idle_closed_).push_back(&slot);
        }
    }
    if (next)
        hand_over(slot, *next);
}

const char* pool::expiry(const connection_slot& slot, clock::time_point now) const noexcept {
    if (!recyclable_)
        return nullptr;
    const auto lifetime = options_.max_lifetime;
    const auto idle = options_.idle_timeout;
    if (lifetime.count() > 0 && now - slot.opened_at >= lifetime)
        return "max_lifetime reached";
    if (idle.count() > 0 && now - slot.idle_since >= idle)
        return "idle_timeout reached";
    return nullptr;
}

bool pool::needs_preparation(connection_slot& slot, clock::time_point now) noexcept {
    return !slot.sql || options_.pre_ping || expiry(slot, now) || !slot.native.looks_alive();
}

void pool::hand_over(connection_slot& slot, acquire_waiter& w) noexcept {
    if (needs_preparation(slot, clock::now()))
        enqueue(slot, {slot_job::kind::prepare, &w});
    else
        deliver(w, slot);
}

void pool::deliver(acquire_waiter& w, connection_slot& slot) noexcept {
    if (!transition(core_access::state(w), waiter_state::assigned, waiter_state::done)) {
        // Cancelled while the connection was being prepared.
        core_access::state(w).store(waiter_state::done, std::memory_order_relaxed);
        give_back(slot);
        w.failed(operation_aborted());
        return;
    }
    pool_counters::count(counters_.acquired);
    counters_.acquire_wait.add(clock::now() - core_access::enqueued_at(w));
    w.granted(slot);
}

bool pool::requeue(acquire_waiter& w, connection_slot& slot) noexcept {
    const auto retry_at = connector_.next_attempt();
    connection_slot* open_slot = nullptr;
    {
        std::lock_guard lock{mutex_};
        auto& state = core_access::state(w);
        if (!idle_open_.empty()) {
            // A connection came free while this one failed to open: it is the waiter's
            // (a cancellation from now on is handled as for any assigned waiter).
            if (state.load(std::memory_order_acquire) != waiter_state::assigned)
                return false;  // cancelled meanwhile: fail it
            open_slot = idle_open_.back();
            idle_open_.pop_back();
        } else {
            if (!transition(state, waiter_state::assigned, waiter_state::queued))
                return false;
            waiters_.push_front(w);
            arm_timer_locked();
            arm_retry_locked(retry_at);
        }
        idle_closed_.push_back(&slot);
    }
    if (open_slot)
        hand_over(*open_slot, w);
    return true;
}

void pool::arm_retry_locked(clock::time_point retry_at) {
    if (!retry_armed_) {
        retry_armed_ = true;
        retry_timer_.expires_at(retry_at);
        retry_timer_.async_wait([this](std::error_code ec) {
            if (ec != asio::error::operation_aborted)
                retry_connect();
        });
    }
}

void pool::retry_connect() {
    connection_slot* slot = nullptr;
    acquire_waiter* next = nullptr;
    {
        std::lock_guard lock{mutex_};
        retry_armed_ = false;
        if (!waiters_.front() || (idle_closed_.empty() && idle_open_.empty()))
            return;  // served meanwhile by a connection that came free
        next = waiters_.front();
        waiters_.remove(*next);
        core_access::state(*next).store(waiter_state::assigned, std::memory_order_relaxed);
        auto& stack = idle_open_.empty() ? idle_closed_ : idle_open_;  // an open one first
        slot = stack.back();
        stack.pop_back();
        slot->connect_retry = !slot->sql;
    }
    hand_over(*slot, *next);  // on behalf of the first waiter: one attempt, if it must connect
}

void pool::end_lease(connection_slot& slot) noexcept {
    if (slot.pending_ops.load(std::memory_order_acquire) == 0 &&
        !slot.needs_reset.load(std::memory_order_relaxed)) {
        end_unfinished_statements(slot);
        give_back(slot);
        return;
    }
    // Work for the old owner may still run there: the reset queues behind it.
    enqueue(slot, {slot_job::kind::reset, nullptr});
}

void pool::arm_timer_locked() {
    if (timer_armed_ || !waiters_.front())
        return;
    timer_armed_ = true;
    timer_.expires_at(core_access::deadline(*waiters_.front()));
    timer_.async_wait([this](std::error_code ec) {
        if (ec != asio::error::operation_aborted)
            on_timer();
    });
}

void pool::on_timer() {
    acquire_waiter* expired = nullptr;  // chained through next_
    std::size_t expired_count = 0;
    std::size_t still_waiting = 0;
    {
        std::lock_guard lock{mutex_};
        timer_armed_ = false;
        const auto now = clock::now();
        acquire_waiter** tail = &expired;
        // All waiters share one timeout and queue in order, so deadlines are sorted.
        while (waiters_.front() && core_access::deadline(*waiters_.front()) <= now) {
            auto* w = waiters_.front();
            waiters_.remove(*w);
            core_access::state(*w).store(waiter_state::done, std::memory_order_relaxed);
            *tail = w;
            tail = &core_access::next(*w);
            ++expired_count;
        }
        still_waiting = waiters_.size();
        arm_timer_locked();
    }
    if (!expired)
        return;
    pool_counters::count(counters_.timeouts, expired_count);
    logger_->warn("asio_soci: pool exhausted: {} acquisition(s) timed out after {} ms on {}",
                  expired_count, options_.acquire_timeout.count(), url_.to_string());
    while (expired) {
        auto* w = expired;
        expired = core_access::next(*w);
        core_access::next(*w) = nullptr;
        // An exception of its own for each waiter: callers on different threads must not
        // share (and release) one exception object.
        w->failed(make_timeout_error(still_waiting));
    }
}

std::exception_ptr pool::make_timeout_error(std::size_t waiting) const {
    return std::make_exception_ptr(
        pool_timeout("pool exhausted: no connection to " + url_.to_string() +
                     " became free within " + std::to_string(options_.acquire_timeout.count()) +
                     " ms (" + slots_in_use() + ", " + std::to_string(waiting) + " more waiting)"));
}

std::string pool::slots_in_use() const {
    const auto size = slots_.size();
    const auto open = std::min(counters_.open.load(std::memory_order_relaxed), size);
    const auto all = "all " + std::to_string(size);
    if (open == size)
        return all + " connections to " + url_.to_string() + " in use";
    // Slots taken by acquisitions whose connection is still being opened (or failed to).
    return all + " connection slots for " + url_.to_string() + " taken (" + std::to_string(open) +
           " connection(s) open, the others being opened)";
}

bool pool::idle() const noexcept {
    std::lock_guard lock{mutex_};
    return idle_open_.size() + idle_closed_.size() == slots_.size();
}

pool_stats pool::stats() const {
    pool_stats s;
    {
        std::lock_guard lock{mutex_};
        s.size = slots_.size();
        s.idle = idle_open_.size() + idle_closed_.size();
        s.in_use = s.size - s.idle;
        s.waiting = waiters_.size();
    }
    counters_.copy_to(s);
    return s;
}

}  // namespace asio_soci::detail
