#include "pool.hpp"

#include "logging.hpp"

#include <asio_soci/detail/operations.hpp>
#include <asio_soci/errors.hpp>

#include <asio/error.hpp>
#include <asio/post.hpp>
#include <asio/system_error.hpp>

#include <soci/soci-backend.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <filesystem>
#include <random>
#include <stdexcept>
#include <string>
#include <system_error>
#include <thread>
#include <utility>

namespace asio_soci::detail {

// The state machines of the interfaces in core.hpp.
namespace waiter_state {
constexpr int queued = 0;            // in the FIFO; only the pool (under its lock) may take it out
constexpr int assigned = 1;          // holds a slot that is being handed over
constexpr int cancel_requested = 2;  // assigned, and cancelled: fails once the hand-over ends
constexpr int done = 3;              // granted() or failed() has been called, or is being called
}  // namespace waiter_state

namespace offload_state {
constexpr int pending = 0;
constexpr int running = 1;
constexpr int cancel_requested = 2;  // completes with operation_aborted when the worker is done
constexpr int committing = 3;        // past the point of no return: cancellation is ignored
constexpr int finished = 4;
constexpr int cancelled = 5;  // taken out of its queue unrun
}  // namespace offload_state

struct core_access {
    static std::atomic<int>& state(acquire_waiter& w) noexcept { return w.state_; }
    static std::atomic<int>& state(offload_base& op) noexcept { return op.state_; }
    static acquire_waiter*& prev(acquire_waiter& w) noexcept { return w.prev_; }
    static acquire_waiter*& next(acquire_waiter& w) noexcept { return w.next_; }
    static clock::time_point& deadline(acquire_waiter& w) noexcept { return w.deadline_; }
    static clock::time_point& enqueued_at(acquire_waiter& w) noexcept { return w.enqueued_at_; }
    static std::atomic<connection_slot*>& slot(one_shot_base& op) noexcept { return op.slot_; }
    static std::atomic<std::uint64_t>& id(offload_base& op) noexcept { return op.id_; }
};

namespace {

bool transition(std::atomic<int>& state, int from, int to) noexcept {
    return state.compare_exchange_strong(from, to, std::memory_order_acq_rel);
}

pool_options validated(pool_options options) {
    using namespace std::string_literals;
    if (options.pool_size == 0)
        throw std::invalid_argument("pool_options.pool_size must be at least 1");
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

// The connection whose call this worker thread is running, for connection_state().
thread_local connection_slot* running_slot = nullptr;

class running_on {
public:
    explicit running_on(connection_slot& slot) noexcept { running_slot = &slot; }
    ~running_on() { running_slot = nullptr; }
    running_on(const running_on&) = delete;
    running_on& operator=(const running_on&) = delete;
};

connection_slot& slot_running(soci::session& sql) {
    if (!running_slot || running_slot->sql.get() != &sql)
        throw std::logic_error(
            "asio_soci::connection_state() outside a call that as_future() runs, or with "
            "another soci::session than the call was given");
    return *running_slot;
}

}  // namespace

void* find_connection_state(soci::session& sql, std::type_index type) {
    for (auto& state : slot_running(sql).states) {
        if (state.type == type)
            return state.object.get();
    }
    return nullptr;
}

void* keep_connection_state(soci::session& sql, std::type_index type, void* object,
                            state_deleter destroy) {
    auto& states = slot_running(sql).states;
    states.reserve(states.size() + 1);  // so that the push cannot throw and delete `object`
    states.push_back({type, {object, destroy}});
    return object;
}

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

void pool::waiter_queue::push_back(acquire_waiter& w) noexcept {
    core_access::prev(w) = tail;
    core_access::next(w) = nullptr;
    (tail ? core_access::next(*tail) : head) = &w;
    tail = &w;
    ++size;
}

void pool::waiter_queue::push_front(acquire_waiter& w) noexcept {
    core_access::prev(w) = nullptr;
    core_access::next(w) = head;
    (head ? core_access::prev(*head) : tail) = &w;
    head = &w;
    ++size;
}

void pool::waiter_queue::remove(acquire_waiter& w) noexcept {
    auto* prev = core_access::prev(w);
    auto* next = core_access::next(w);
    (prev ? core_access::next(*prev) : head) = next;
    (next ? core_access::prev(*next) : tail) = prev;
    core_access::prev(w) = core_access::next(w) = nullptr;
    --size;
}

pool::pool(database_url url, pool_options options)
    : url_(std::move(url)),
      options_(validated(std::move(options))),
      settings_(make_connect_settings(url_, options_.acquire_timeout)),
      logger_(logger_or_default(options_.logger)),
      recyclable_(!url_.is_sqlite_memory()),
      workers_(options_.worker_threads ? options_.worker_threads : options_.pool_size),
      timer_(service_),
      retry_timer_(service_) {
    initialize_backend_statics(settings_.kind);
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
    // Close every connection through its own queue, after whatever is still queued there
    // (an abandoned call, a rollback), then wait for the workers to drain.
    for (auto& slot : slots_)
        enqueue(*slot, {slot_job::kind::close, nullptr});
    workers_.join();
    service_.join();
    logger_->info("asio_soci: closed the pool of {} ({} acquisitions served, {} timed out)",
                  url_.to_string(), acquired_total_.load(), timeouts_total_.load());
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
        waiting = waiters_.size;
        const bool must_wait = waiters_.head || (idle_open_.empty() && idle_closed_.empty());
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
    rejected_total_.fetch_add(1, std::memory_order_relaxed);
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
        if (waiters_.head) {
            next = waiters_.head;
            waiters_.remove(*next);
            core_access::state(*next).store(waiter_state::assigned, std::memory_order_relaxed);
        } else {
            (slot.sql ? idle_open_ : idle_closed_).push_back(&slot);
        }
    }
    if (next)
        hand_over(slot, *next);
}

bool pool::needs_preparation(connection_slot& slot, clock::time_point now) noexcept {
    if (!slot.sql || options_.pre_ping)
        return true;
    if (recyclable_) {
        const auto lifetime = options_.max_lifetime;
        const auto idle = options_.idle_timeout;
        if (lifetime.count() > 0 && now - slot.opened_at >= lifetime)
            return true;
        if (idle.count() > 0 && now - slot.idle_since >= idle)
            return true;
    }
    return !slot.native.looks_alive();
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
    acquired_total_.fetch_add(1, std::memory_order_relaxed);
    acquire_wait_.add(clock::now() - core_access::enqueued_at(w));
    w.granted(slot);
}

void pool::prepare(connection_slot& slot, acquire_waiter& w) noexcept {
    std::exception_ptr error;
    // An attempt the pool made on its own (retry_connect) fails nobody while other
    // connections are open: the waiter it was made for keeps its place.
    const bool retrying = std::exchange(slot.connect_retry, false);
    try {
        if (slot.sql) {
            const auto now = clock::now();
            const auto lifetime = options_.max_lifetime;
            const auto idle = options_.idle_timeout;
            if (recyclable_ && lifetime.count() > 0 && now - slot.opened_at >= lifetime)
                close(slot, "max_lifetime reached");
            else if (recyclable_ && idle.count() > 0 && now - slot.idle_since >= idle)
                close(slot, "idle_timeout reached");
            else if ((options_.pre_ping || !slot.native.looks_alive()) &&
                     !slot.native.ping(*slot.sql))
                close(slot, "failed a ping: closed by the server or the network");
        }
        if (!slot.sql) {
            // After a failed attempt, no new one until the backoff has passed. While other
            // connections are open (the database is up: a connection limit, say), the
            // waiter keeps its place and waits for one of them, or for the next attempt;
            // with none open, it fails at once with the last attempt's reason.
            if (auto refusal = connect_refusal()) {
                if (open_count_.load(std::memory_order_relaxed) > 0 && requeue(w, slot))
                    return;
                throw connection_error(*refusal);
            }
            open(slot);
        }
    } catch (...) {
        error = std::current_exception();
    }
    if (!error) {
        deliver(w, slot);
        return;
    }
    if (retrying && !slot.sql && open_count_.load(std::memory_order_relaxed) > 0 &&
        requeue(w, slot))
        return;
    give_back(slot);
    const bool cancelled =
        !transition(core_access::state(w), waiter_state::assigned, waiter_state::done);
    core_access::state(w).store(waiter_state::done, std::memory_order_relaxed);
    // The worker keeps no reference to the exception.
    w.failed(cancelled ? operation_aborted() : std::move(error));
}

std::optional<std::string> pool::connect_refusal() {
    std::lock_guard lock{connect_mutex_};
    const auto now = clock::now();
    if (now >= next_connect_attempt_)
        return std::nullopt;
    const auto wait =
        std::chrono::duration_cast<std::chrono::milliseconds>(next_connect_attempt_ - now);
    return "cannot connect to " + url_.to_string() + ": " + last_connect_failure_ +
           " (next attempt in " + std::to_string(wait.count() + 1) + " ms)";
}

bool pool::requeue(acquire_waiter& w, connection_slot& slot) noexcept {
    clock::time_point retry_at;
    {
        std::lock_guard lock{connect_mutex_};
        retry_at = next_connect_attempt_;
    }
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
        if (!waiters_.head || (idle_closed_.empty() && idle_open_.empty()))
            return;  // served meanwhile by a connection that came free
        next = waiters_.head;
        waiters_.remove(*next);
        core_access::state(*next).store(waiter_state::assigned, std::memory_order_relaxed);
        auto& stack = idle_open_.empty() ? idle_closed_ : idle_open_;  // an open one first
        slot = stack.back();
        stack.pop_back();
        slot->connect_retry = !slot->sql;
    }
    hand_over(*slot, *next);  // on behalf of the first waiter: one attempt, if it must connect
}

namespace {

// The file a SQLite URL names, as the process resolves it (a relative path is taken from
// the working directory), for messages.
std::string absolute_sqlite_path(const database_url& url) {
    std::error_code ec;
    auto path = std::filesystem::absolute(url.database(), ec);
    return ec ? url.database() : path.lexically_normal().string();
}

}  // namespace

void pool::open(connection_slot& slot) {
    auto sql = std::make_unique<soci::session>();
    try {
        slot.native.open(*sql, settings_, *logger_);
    } catch (const std::exception& e) {
        slot.native.close();
        connect_failures_total_.fetch_add(1, std::memory_order_relaxed);
        std::string reason = log_message(std::runtime_error(url_.redact(e.what())), true);
        if (url_.backend() == backend::sqlite3 && !url_.is_sqlite_memory())
            reason += " (file " + absolute_sqlite_path(url_) + ")";
        {
            std::lock_guard lock{connect_mutex_};
            connect_backoff_ =
                std::clamp(connect_backoff_ * 2, min_connect_backoff, max_connect_backoff);
            next_connect_attempt_ = clock::now() + connect_backoff_;
            last_connect_failure_ = reason;
        }
        logger_->warn("asio_soci: cannot connect to {}: {}", url_.to_string(), reason);
        throw connection_error("cannot connect to " + url_.to_string() + ": " + reason);
    }
    {
        std::lock_guard lock{connect_mutex_};
        connect_backoff_ = std::chrono::milliseconds::zero();
    }
    if (options_.on_connect) {
        try {
            options_.on_connect(*sql);
        } catch (...) {
            slot.native.close();
            connect_failures_total_.fetch_add(1, std::memory_order_relaxed);
            logger_->warn("asio_soci: on_connect failed for a new connection to {}",
                          url_.to_string());
            throw;
        }
    }
    slot.sql = std::move(sql);
    // A slot that had a connection before replaces one (broken, expired, idle too long).
    const bool replacing = slot.opened_at != clock::time_point{};
    slot.opened_at = clock::now();
    const auto open = open_count_.fetch_add(1, std::memory_order_relaxed) + 1;
    connects_total_.fetch_add(1, std::memory_order_relaxed);
    logger_->info("asio_soci: {} a connection to {} ({} of {} open)",
                  replacing ? "reconnected: opened" : "opened", url_.to_string(), open,
                  slots_.size());
}

void pool::close(connection_slot& slot, const char* why) noexcept {
    if (!slot.sql)
        return;
    slot.states.clear();  // statements first: they need their session
    slot.native.close();
    slot.sql.reset();
    open_count_.fetch_sub(1, std::memory_order_relaxed);
    if (why) {
        discarded_total_.fetch_add(1, std::memory_order_relaxed);
        logger_->info("asio_soci: closed a connection to {}: {}", url_.to_string(), why);
    } else {
        logger_->debug("asio_soci: closed a connection to {}", url_.to_string());
    }
}

void pool::release(connection_slot& slot) noexcept {
    if (slot.pending_ops.load(std::memory_order_acquire) == 0 &&
        !slot.needs_reset.load(std::memory_order_relaxed)) {
        end_unfinished_statements(slot);
        give_back(slot);
        return;
    }
    // Work for the old owner may still run there: the reset queues behind it.
    enqueue(slot, {slot_job::kind::reset, nullptr});
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
                        uncommitted_rollbacks_total_.fetch_add(1, std::memory_order_relaxed);
                        logger_->debug(
                            "asio_soci: a session went back to the pool of {} with uncommitted "
                            "changes; rolled back (commit with async_commit())",
                            url_.to_string());
                    }
                    if (slot.native.transaction_status() != transaction_state::idle)
                        close(slot, "still in a transaction after rollback");
                } catch (...) {
                    close(slot, "rollback failed");
                }
                break;
            case transaction_state::broken:
                close(slot, "connection lost");
                break;
        }
    }
    slot.needs_reset.store(false, std::memory_order_relaxed);
    give_back(slot);
}

void pool::submit(connection_slot& slot, offload_base& op) {
    slot.pending_ops.fetch_add(1, std::memory_order_relaxed);
    enqueue(slot, {slot_job::kind::run, &op});
}

void pool::enqueue(connection_slot& slot, slot_job job) {
    bool start;
    {
        std::lock_guard lock{slot.queue_mutex};
        slot.queue.push_back(job);
        start = !std::exchange(slot.draining, true);
    }
    // Posted, not deferred: a thread that blocks after queueing (a future waited on in
    // a worker) must not hold the drain in its private queue.
    if (start)
        asio::post(workers_, [this, &slot] { drain(slot); });
}

void pool::drain(connection_slot& slot) noexcept {
    for (;;) {
        slot_job job;
        {
            std::lock_guard lock{slot.queue_mutex};
            if (slot.queue_head == slot.queue.size()) {
                slot.queue.clear();  // keeps its capacity: no allocation next time
                slot.queue_head = 0;
                slot.draining = false;
                return;
            }
            job = slot.queue[slot.queue_head++];
        }
        switch (job.what) {
            case slot_job::kind::run:
                run(slot, *static_cast<offload_base*>(job.subject));
                break;
            case slot_job::kind::prepare:
                prepare(slot, *static_cast<acquire_waiter*>(job.subject));
                break;
            case slot_job::kind::reset:
                reset(slot);
                break;
            case slot_job::kind::close:
                close(slot, nullptr);
                break;
            case slot_job::kind::skip:
                break;
        }
    }
}

void pool::run(connection_slot& slot, offload_base& op) noexcept {
    using namespace offload_state;
    auto& state = core_access::state(op);
    const bool one_shot = op.one_shot_;
    const auto id = ++slot.operations_started;
    core_access::id(op).store(id, std::memory_order_relaxed);
    slot.native.begin_operation(id);
    bool aborted = true;  // unless it runs to the end uncancelled (or past its commit)
    if (transition(state, pending, running)) {
        const auto start = clock::now();
        soci::session& sql = *slot.sql;
        {
            running_on running{slot};
            if (one_shot)
                run_unit_of_work(sql, static_cast<one_shot_base&>(op));
            else if (!op.autobegin_ || begin_if_idle(slot, op))
                op.execute(sql);
        }
        if (op.error_)
            classify(slot, op);
        const auto elapsed = clock::now() - start;
        call_duration_.add(elapsed);
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
    if (!slot.native.end_operation(aborted))
        close(slot, "a cancel request got no answer in time");
    slot.needs_reset.store(slot.sql && slot.native.transaction_status() != transaction_state::idle,
                           std::memory_order_relaxed);
    slot.pending_ops.fetch_sub(1, std::memory_order_release);
    if (one_shot)  // back in the pool before the caller resumes
        release(slot);
    op.complete(aborted);  // the completion owns the operation from here on
}

void pool::classify(connection_slot& slot, offload_base& op) noexcept {
    try {
        op.error_ = classify_error(op.error_,
                                   slot.native.transaction_status() == transaction_state::broken);
    } catch (...) {  // out of memory: the driver's error as it was
    }
}

bool pool::begin_if_idle(connection_slot& slot, offload_base& op) noexcept {
    if (slot.native.transaction_status() != transaction_state::idle)
        return true;  // open already, or broken: fn meets the error itself
    try {
        // A plain (on SQLite: deferred) BEGIN, so that readers do not queue for the
        // write lock; async_begin() is the way to take it up front.
        slot.sql->begin();
        return true;
    } catch (...) {
        op.error_ = std::current_exception();
        return false;
    }
}

void pool::run_unit_of_work(soci::session& sql, one_shot_base& op) noexcept {
    using namespace offload_state;
    auto& state = core_access::state(static_cast<offload_base&>(op));
    auto backoff = op.retry_.initial_backoff;
    for (unsigned attempt = 1;; ++attempt) {
        op.error_ = nullptr;
        try {
            begin(sql);
            op.execute(sql);
            // commit_if_open, not commit: PostgreSQL answers COMMIT of a transaction in
            // which fn swallowed a statement's error with a rollback, and success.
            if (!op.error_ && transition(state, running, committing))
                commit_if_open(sql);
        } catch (...) {
            op.error_ = std::current_exception();
        }
        const bool commit_started = state.load(std::memory_order_acquire) == committing;
        if (op.error_ || !commit_started) {
            try {  // fn or the commit failed, or the caller went away: undo what fn did
                rollback_if_open(sql);
            } catch (...) {
            }
        }
        if (!op.error_ || attempt >= op.retry_.max_attempts || !is_transient(op.error_))
            return;
        // The server refused the attempt as a whole (a commit it reports as failed was
        // not applied): go again, unless the caller has cancelled meanwhile.
        if (commit_started)
            transition(state, committing, running);
        if (state.load(std::memory_order_acquire) != running)
            return;
        retries_total_.fetch_add(1, std::memory_order_relaxed);
        thread_local std::minstd_rand jitter{std::random_device{}()};
        const auto wait = backoff / 2 + backoff / 2 * (jitter() % 1000) / 1000;
        std::this_thread::sleep_for(wait);
        backoff = std::min(backoff * 2, op.retry_.max_backoff);
        if (state.load(std::memory_order_acquire) != running)
            return;  // cancelled during the backoff: fn must not start again
        logger_->debug("asio_soci: retrying a unit of work on {} (attempt {})", url_.to_string(),
                       attempt + 1);
    }
}

bool pool::unqueue(connection_slot& slot, offload_base& op) noexcept {
    std::lock_guard lock{slot.queue_mutex};
    for (auto i = slot.queue_head; i < slot.queue.size(); ++i) {
        auto& job = slot.queue[i];
        if (job.what == slot_job::kind::run && job.subject == &op) {
            job = {slot_job::kind::skip, nullptr};
            return true;
        }
    }
    return false;
}

void pool::cancel_offload(connection_slot& slot, offload_base& op, bool interrupt) noexcept {
    using namespace offload_state;
    auto& state = core_access::state(op);
    if (unqueue(slot, op)) {  // nothing ran: complete at once
        state.store(cancelled, std::memory_order_relaxed);
        slot.pending_ops.fetch_sub(1, std::memory_order_release);
        if (op.one_shot_)
            release(slot);
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

void pool::arm_timer_locked() {
    if (timer_armed_ || !waiters_.head)
        return;
    timer_armed_ = true;
    timer_.expires_at(core_access::deadline(*waiters_.head));
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
        while (waiters_.head && core_access::deadline(*waiters_.head) <= now) {
            auto* w = waiters_.head;
            waiters_.remove(*w);
            core_access::state(*w).store(waiter_state::done, std::memory_order_relaxed);
            *tail = w;
            tail = &core_access::next(*w);
            ++expired_count;
        }
        still_waiting = waiters_.size;
        arm_timer_locked();
    }
    if (!expired)
        return;
    timeouts_total_.fetch_add(expired_count, std::memory_order_relaxed);
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
    const auto open = std::min(open_count_.load(std::memory_order_relaxed), size);
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
        s.waiting = waiters_.size;
    }
    s.open = open_count_.load(std::memory_order_relaxed);
    s.acquired_total = acquired_total_.load(std::memory_order_relaxed);
    s.timeouts_total = timeouts_total_.load(std::memory_order_relaxed);
    s.rejected_total = rejected_total_.load(std::memory_order_relaxed);
    s.connects_total = connects_total_.load(std::memory_order_relaxed);
    s.connect_failures_total = connect_failures_total_.load(std::memory_order_relaxed);
    s.discarded_total = discarded_total_.load(std::memory_order_relaxed);
    s.uncommitted_rollbacks_total = uncommitted_rollbacks_total_.load(std::memory_order_relaxed);
    s.retries_total = retries_total_.load(std::memory_order_relaxed);
    s.acquire_wait = acquire_wait_.snapshot();
    s.call_duration = call_duration_.snapshot();
    return s;
}

// The free functions of core.hpp.

void acquire(pool& p, acquire_waiter& w) {
    p.acquire(w);
}
void cancel_acquire(pool& p, acquire_waiter& w) noexcept {
    p.cancel_acquire(w);
}
void release(connection_slot& slot) noexcept {
    slot.owner.release(slot);
}
void submit(connection_slot& slot, offload_base& op) {
    slot.owner.submit(slot, op);
}
void cancel_offload(connection_slot& slot, offload_base& op, bool interrupt) noexcept {
    slot.owner.cancel_offload(slot, op, interrupt);
}
worker_executor executor_of(pool& p) noexcept {
    return p.executor();
}
bool autocommit(const pool& p) noexcept {
    return p.options().autocommit;
}

void one_shot_base::granted(connection_slot& slot) {
    core_access::slot(*this).store(&slot, std::memory_order_release);
    submit(slot, *this);
}

void one_shot_base::failed(std::exception_ptr error) {
    core_access::state(static_cast<offload_base&>(*this))
        .store(offload_state::finished, std::memory_order_relaxed);
    error_ = std::move(error);
    complete(false);
}

void cancel_one_shot(pool& p, one_shot_base& op, bool interrupt) noexcept {
    auto& waiting = core_access::state(static_cast<acquire_waiter&>(op));
    if (waiting.load(std::memory_order_acquire) != waiter_state::done) {
        p.cancel_acquire(op);  // still acquiring: the pool fails it with operation_aborted
        return;
    }
    if (auto* slot = core_access::slot(op).load(std::memory_order_acquire))
        p.cancel_offload(*slot, op, interrupt);
    else  // being granted right now: the worker will see the request before fn starts
        transition(core_access::state(static_cast<offload_base&>(op)), offload_state::pending,
                   offload_state::cancel_requested);
}

}  // namespace asio_soci::detail
