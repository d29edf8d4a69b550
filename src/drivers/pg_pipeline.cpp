// pg::async_query(factory, ...): calls queued per io_context (a lane) and sent in groups
// on the lane's connections, each group one pg_operation run by pg_exchange with a sync
// after every call. See pg_pipeline.hpp.
#include "pg_pipeline.hpp"

#include "../core/pool.hpp"

#include <asio_soci/detail/acquire_waiter.hpp>
#include <asio_soci/detail/completion_registry.hpp>
#include <asio_soci/detail/handler_holder.hpp>
#include <asio_soci/detail/pg_operation.hpp>
#include <asio_soci/detail/pg_pooled_call.hpp>
#include <asio_soci/errors.hpp>

#include <asio/execution/context.hpp>
#include <asio/post.hpp>
#include <asio/query.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <optional>
#include <string>
#include <utility>

namespace asio_soci::detail {

namespace {
// Calls sent in one group at most: bounds the write and the memory a group holds.
constexpr std::size_t max_group_calls = 128;
}  // namespace

/// A connection of a lane: acquired from the pool, then sending one group after another
/// while calls are queued, and given back when none is. Each step after the pool's or
/// the exchange's callback is posted to the lane's context: the connection may be the
/// pool's last reference, which must not go while the pool is still calling back. So,
/// like the calls, it is an operation of the context's completion_registry while it
/// waits for the pool or for its group: a context that shuts down meanwhile ends it
/// (discard(): back to the pool) instead of receiving a post.
class pg_lane_connection final : public acquire_waiter, public completion_target {
public:
    pg_lane_connection(pg_pipeline& pipeline, std::shared_ptr<pool> owner,
                       pg_pipeline::lane_key key, asio::any_io_executor io)
        : pipeline(pipeline),
          owner(std::move(owner)),
          key(key),
          io(std::move(io)),
          registry(completion_registry::of(asio::query(this->io, asio::execution::context))) {}

    /// Acquires a connection for the lane; `connection` owns itself until it has one.
    static void start(std::shared_ptr<pg_lane_connection> connection) noexcept {
        auto& c = *connection;
        c.self = std::move(connection);
        c.registry.add(c);
        acquire(*c.owner, c);
    }

    void granted(connection_slot& s) override {
        slot = &s;
        acquiring.store(false, std::memory_order_release);
        resume_on_lane(std::move(self), true);
    }
    void failed(std::exception_ptr error) override {
        failure = std::move(error);
        acquiring.store(false, std::memory_order_release);
        resume_on_lane(std::move(self), false);
    }

    /// The connection's group is about to be sent: its end will be posted here.
    void await_group() { registry.add(*this); }

    /// Posts the connection's next step to its lane's context: the next group when
    /// `usable`, otherwise the lane counts it out (given back to the pool, maybe closed).
    /// A context that shuts down, or drops the step unrun, counts it out too.
    static void resume_on_lane(std::shared_ptr<pg_lane_connection> connection, bool usable) {
        struct step {
            std::shared_ptr<pg_lane_connection> connection;
            bool usable;
            step(std::shared_ptr<pg_lane_connection> c, bool u) noexcept
                : connection(std::move(c)), usable(u) {}
            step(step&& other) noexcept
                : connection(std::move(other.connection)), usable(other.usable) {}
            ~step() {
                if (connection)
                    count_out(std::move(connection));
            }
            void operator()() {
                if (usable)
                    connection->pipeline.send_next_group(std::move(connection));
                else
                    count_out(std::move(connection));
            }
        };
        auto& c = *connection;
        c.self = std::move(connection);  // held by discard() if the context shuts down
        c.registry.post_or_hold(c, [&] { asio::post(c.io, step{std::move(c.self), usable}); });
    }

    static void count_out(std::shared_ptr<pg_lane_connection> connection) noexcept {
        if (connection->slot)
            connection->give_back();
        connection->pipeline.connection_lost(connection->key, connection->failure);
    }

    // The lane's context shuts down: an acquisition ends (failed() follows); a group in
    // flight ends through its calls, which are operations of the same context.
    void cancel_for_shutdown() noexcept override {
        if (acquiring.load(std::memory_order_acquire))
            cancel_acquire(*owner, *this);
    }
    void discard() noexcept override { count_out(std::move(self)); }

    void give_back() noexcept {
        end_lease(*slot);
        slot = nullptr;
    }

    ~pg_lane_connection() {
        // On a worker, the last reference goes to the pool's reaper.
        keep_through_upcall(std::move(owner));
    }

    pg_pipeline& pipeline;
    std::shared_ptr<pool> owner;  // keeps the pool, and so the pipeline, alive
    const pg_pipeline::lane_key key;
    const asio::any_io_executor io;  // the lane's context
    completion_registry& registry;   // the lane context's
    std::atomic<bool> acquiring{true};
    connection_slot* slot = nullptr;
    std::exception_ptr failure;  // why it could not be acquired
    // While the pool holds it as a waiter, or its step is held by a shutting-down context.
    std::shared_ptr<pg_lane_connection> self;
};

/// The calls sent together on one connection, as one operation of the exchange.
class pg_group final : public pg_operation {
public:
    pg_group(std::shared_ptr<pg_lane_connection> connection, std::vector<pg_pooled_call*> calls,
             std::vector<pg_statement> statements, std::vector<std::size_t> sync_after) noexcept
        : pg_operation(connection->io, std::move(statements), std::move(sync_after)),
          slot_(*connection->slot),
          connection_(std::move(connection)),
          calls_(std::move(calls)) {}

    connection_slot& slot() const noexcept { return slot_; }

    /// The exchange's last use of the group (pool::end_loan): every call completes, and
    /// the connection goes on with the next group, from the lane's context once the
    /// loan has ended.
    void complete(bool aborted) noexcept override {
        auto keep_alive = std::move(self);
        auto error = take_error();
        auto results = take_results();
        auto errors = take_call_errors();
        for (std::size_t k = 0; k < calls_.size(); ++k) {
            auto& call = *calls_[k];
            if (aborted)
                call.error_ = operation_aborted();
            else if (k < errors.size())
                call.error_ = errors[k];
            else
                call.error_ = error ? error : operation_aborted();
            if (!call.error_ && k < results.size())
                call.result_ = std::move(results[k]);
        }
        auto& pipeline = connection_->pipeline;
        {
            std::lock_guard lock{pipeline.mutex_};
            for (auto* call : calls_)
                call->group_.reset();
        }
        // Before the calls complete: until they have, a shutdown of the lane's context
        // waits for them, so the context is there for the post. A connection that failed
        // may be closed: the lane takes a new one.
        pg_lane_connection::resume_on_lane(std::move(connection_), !aborted && !error);
        for (auto* call : calls_)
            call->complete();
    }

    std::shared_ptr<pg_group> self;  // while it runs

private:
    connection_slot& slot_;
    std::shared_ptr<pg_lane_connection> connection_;  // until complete()
    std::vector<pg_pooled_call*> calls_;
};

pg_pipeline::lane_key pg_pipeline::key_of(const pg_pooled_call& call) noexcept {
    return &asio::query(call.io_, asio::execution::context);
}

pg_pipeline::pg_pipeline(pool& owner) : owner_(owner), timer_(owner.timer_executor()) {}

void pg_pipeline::submit(pg_pooled_call& call) {
    const auto key = key_of(call);
    const auto& options = owner_.options();
    std::shared_ptr<pool> owner;
    asio::any_io_executor io;
    std::exception_ptr refusal;
    {
        std::lock_guard lock{mutex_};
        auto& l = lanes_[key];
        const bool full =
            l.connections >= std::min(options.pipeline_connections, options.pool_size);
        if (full && options.max_waiting != 0 && l.queued.size() >= options.max_waiting) {
            call.sent_ = true;  // refused: it never enters the queue
            refusal = std::make_exception_ptr(
                pool_timeout("pg::async_query: " + std::to_string(l.queued.size()) +
                             " calls queued for a connection to " + owner_.url().to_string() +
                             " already (max_waiting " + std::to_string(options.max_waiting) + ")"));
            erase_if_unused(key);
        } else {
            call.queued_at_ = clock::now();
            l.queued.push_back(&call);
            if (!timer_armed_)
                arm_timer(call.queued_at_ + options.acquire_timeout);
            if (!full) {
                ++l.connections;
                // Copied here: once the lock is released, a group may take the call and
                // end it.
                owner = call.owner_;
                io = call.io_;
            }
        }
    }
    if (refusal) {
        call.error_ = std::move(refusal);
        call.complete();
    } else if (owner) {
        connect(key, std::move(owner), std::move(io));
    }
}

void pg_pipeline::arm_timer(clock::time_point deadline) {
    if (stopped_)
        return;
    timer_armed_ = true;
    timer_.expires_at(deadline);
    timer_.async_wait([this](std::error_code error) {
        if (!error)
            on_timer();
    });
}

void pg_pipeline::on_timer() noexcept {
    std::vector<pg_pooled_call*> expired;
    std::size_t still_queued = 0;
    {
        std::lock_guard lock{mutex_};
        timer_armed_ = false;
        const auto timeout = owner_.options().acquire_timeout;
        const auto now = clock::now();
        std::optional<clock::time_point> next;
        for (auto it = lanes_.begin(); it != lanes_.end();) {
            auto& queued = it->second.queued;
            // FIFO: the oldest calls are at the front.
            auto first_waiting = std::find_if(queued.begin(), queued.end(), [&](auto* call) {
                return call->queued_at_ + timeout > now;
            });
            for (auto call = queued.begin(); call != first_waiting; ++call) {
                (*call)->sent_ = true;
                expired.push_back(*call);
            }
            queued.erase(queued.begin(), first_waiting);
            if (!queued.empty()) {
                const auto deadline = queued.front()->queued_at_ + timeout;
                next = next ? std::min(*next, deadline) : deadline;
            }
            still_queued += queued.size();
            if (it->second.connections == 0 && queued.empty())
                it = lanes_.erase(it);
            else
                ++it;
        }
        if (next) {
            try {
                arm_timer(*next);
            } catch (...) {  // out of memory: armed again by the next call queued
                timer_armed_ = false;
            }
        }
    }
    if (expired.empty())
        return;
    const auto error = queue_timeout(still_queued);
    for (auto* call : expired) {
        call->error_ = error;
        call->complete();
    }
}

std::exception_ptr pg_pipeline::queue_timeout(std::size_t still_queued) const {
    try {
        const auto& options = owner_.options();
        return std::make_exception_ptr(
            pool_timeout("pool exhausted: pg::async_query waited " +
                         std::to_string(options.acquire_timeout.count()) + " ms for one of the " +
                         std::to_string(std::min(options.pipeline_connections, options.pool_size)) +
                         " pipeline connections to " + owner_.url().to_string() + " (" +
                         std::to_string(still_queued) + " more calls queued)"));
    } catch (...) {
        return std::current_exception();
    }
}

void pg_pipeline::stop() noexcept {
    std::lock_guard lock{mutex_};
    stopped_ = true;
    timer_.cancel();
}

void pg_pipeline::connect(lane_key key, std::shared_ptr<pool> owner,
                          asio::any_io_executor io) noexcept {
    std::shared_ptr<pg_lane_connection> connection;
    try {
        connection =
            std::make_shared<pg_lane_connection>(*this, std::move(owner), key, std::move(io));
    } catch (...) {
        connection_lost(key, std::current_exception());
        return;
    }
    pg_lane_connection::start(std::move(connection));
}

void pg_pipeline::send_next_group(std::shared_ptr<pg_lane_connection> connection) noexcept {
    std::vector<pg_pooled_call*> calls;
    {
        std::lock_guard lock{mutex_};
        auto& l = lanes_[connection->key];
        const auto count = std::min(l.queued.size(), max_group_calls);
        calls.assign(l.queued.begin(), l.queued.begin() + static_cast<std::ptrdiff_t>(count));
        l.queued.erase(l.queued.begin(), l.queued.begin() + static_cast<std::ptrdiff_t>(count));
        for (auto* call : calls)
            call->sent_ = true;
        if (calls.empty()) {
            --l.connections;
            erase_if_unused(connection->key);
        }
    }
    if (calls.empty()) {
        connection->give_back();
        return;
    }
    std::shared_ptr<pg_group> group;
    try {
        std::vector<pg_statement> statements;
        std::vector<std::size_t> sync_after;
        statements.reserve(calls.size());
        sync_after.reserve(calls.size());
        for (auto* call : calls) {
            statements.push_back(std::move(call->statement_));
            sync_after.push_back(statements.size());
        }
        group = std::make_shared<pg_group>(connection, calls, std::move(statements),
                                           std::move(sync_after));
    } catch (...) {
        const auto error = std::current_exception();
        for (auto* call : calls) {
            call->error_ = error;
            call->complete();
        }
        pg_lane_connection::count_out(std::move(connection));
        return;
    }
    {
        std::lock_guard lock{mutex_};
        for (auto* call : calls)
            call->group_ = group;
    }
    auto& slot = *connection->slot;
    group->self = group;
    connection->await_group();
    try {
        submit_pg(slot, *group);
    } catch (...) {  // out of memory queueing it: the group ends unrun
        group->complete(true);
    }
}

void pg_pipeline::connection_lost(lane_key key, const std::exception_ptr& error) noexcept {
    std::vector<pg_pooled_call*> failing;
    std::shared_ptr<pool> owner;
    asio::any_io_executor io;
    {
        std::lock_guard lock{mutex_};
        auto& l = lanes_[key];
        --l.connections;
        if (!l.queued.empty()) {
            if (error && l.connections == 0) {
                failing.swap(l.queued);
                for (auto* call : failing)
                    call->sent_ = true;
            } else if (!error) {
                ++l.connections;
                owner = l.queued.front()->owner_;
                io = l.queued.front()->io_;
            }
        }
        erase_if_unused(key);
    }
    for (auto* call : failing) {
        call->error_ = error;
        call->complete();
    }
    if (owner)
        connect(key, std::move(owner), std::move(io));
}

bool pg_pipeline::withdraw(pg_pooled_call& call) noexcept {
    std::lock_guard lock{mutex_};
    if (call.sent_)
        return false;
    const auto key = key_of(call);
    auto& queued = lanes_[key].queued;
    queued.erase(std::find(queued.begin(), queued.end(), &call));
    call.sent_ = true;
    erase_if_unused(key);
    return true;
}

void pg_pipeline::cancel(pg_pooled_call& call) noexcept {
    if (!withdraw(call))
        return;  // sent: it completes with its real outcome
    call.error_ = operation_aborted();
    call.complete();
}

void pg_pipeline::shut_down(pg_pooled_call& call) noexcept {
    if (withdraw(call)) {
        call.error_ = operation_aborted();
        call.complete();
        return;
    }
    std::shared_ptr<pg_group> group;
    {
        std::lock_guard lock{mutex_};
        group = call.group_;
    }
    // Sent: its group is finished on a worker, since the context runs nothing more.
    if (group)
        shutdown_pg(group->slot(), *group);
}

void pg_pipeline::erase_if_unused(lane_key key) noexcept {
    auto found = lanes_.find(key);
    if (found != lanes_.end() && found->second.connections == 0 && found->second.queued.empty())
        lanes_.erase(found);
}

pg_pipeline& pg_pipeline::of(const pg_pooled_call& call) noexcept {
    return call.owner_->pipeline();
}

void submit_pooled_pg(pg_pooled_call& call) {
    pg_pipeline::of(call).submit(call);
}

void cancel_pooled_pg(pg_pooled_call& call) noexcept {
    pg_pipeline::of(call).cancel(call);
}

void shutdown_pooled_pg(pg_pooled_call& call) noexcept {
    pg_pipeline::of(call).shut_down(call);
}

}  // namespace asio_soci::detail
