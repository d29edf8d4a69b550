// pg::async_query(factory, ...): calls queued per io_context (a lane) and sent in groups
// on the lane's connections, each group one pg_operation run by pg_exchange with a sync
// after every call. See pg_pipeline.hpp.
#include "pg_pipeline.hpp"

#include "../core/pool.hpp"

#include <asio_soci/detail/acquire_waiter.hpp>
#include <asio_soci/detail/handler_holder.hpp>
#include <asio_soci/detail/pg_operation.hpp>
#include <asio_soci/detail/pg_pooled_call.hpp>

#include <asio/execution/context.hpp>
#include <asio/post.hpp>
#include <asio/query.hpp>

#include <algorithm>
#include <utility>

namespace asio_soci::detail {

namespace {
// Calls sent in one group at most: bounds the write and the memory a group holds.
constexpr std::size_t max_group_calls = 128;
}  // namespace

/// A connection of a lane: acquired from the pool, then sending one group after another
/// while calls are queued, and given back when none is. Each step after the pool's or
/// the exchange's callback runs from the lane's context: the connection may be the
/// pool's last reference, which must not go while the pool is still calling back.
class pg_lane_connection final : public acquire_waiter {
public:
    pg_lane_connection(pg_pipeline& pipeline, std::shared_ptr<pool> owner,
                       pg_pipeline::lane_key key, asio::any_io_executor io) noexcept
        : pipeline(pipeline), owner(std::move(owner)), key(key), io(std::move(io)) {}

    void granted(connection_slot& s) override {
        slot = &s;
        resume_on_lane(std::move(self), true);
    }
    void failed(std::exception_ptr error) override {
        failure = std::move(error);
        resume_on_lane(std::move(self), false);
    }

    /// Posts the connection's next step to its lane's context: the next group when
    /// `usable`, otherwise the lane counts it out (given back to the pool, maybe closed).
    /// A context that drops the step unrun counts it out too.
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
        const auto io = connection->io;
        asio::post(io, step{std::move(connection), usable});
    }

    static void count_out(std::shared_ptr<pg_lane_connection> connection) noexcept {
        if (connection->slot)
            connection->give_back();
        connection->pipeline.connection_lost(connection->key, connection->failure);
    }

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
    connection_slot* slot = nullptr;
    std::exception_ptr failure;                // why it could not be acquired
    std::shared_ptr<pg_lane_connection> self;  // while the pool holds it as a waiter
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
        for (auto* call : calls_)
            call->complete();
        // A connection that failed may be closed: the lane takes a new one.
        pg_lane_connection::resume_on_lane(std::move(connection_), !aborted && !error);
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

void pg_pipeline::submit(pg_pooled_call& call) {
    const auto key = key_of(call);
    std::shared_ptr<pool> owner;
    asio::any_io_executor io;
    {
        std::lock_guard lock{mutex_};
        auto& l = lanes_[key];
        l.queued.push_back(&call);
        const auto& options = owner_.options();
        if (l.connections >= std::min(options.pipeline_connections, options.pool_size))
            return;
        ++l.connections;
        // Copied here: once the lock is released, a group may take the call and end it.
        owner = call.owner_;
        io = call.io_;
    }
    connect(key, std::move(owner), std::move(io));
}

void pg_pipeline::connect(lane_key key, std::shared_ptr<pool> owner,
                          asio::any_io_executor io) noexcept {
    std::shared_ptr<pg_lane_connection> connection;
    try {
        connection =
            std::make_shared<pg_lane_connection>(*this, std::move(owner), key, std::move(io));
        connection->self = connection;
        acquire(owner_, *connection);
    } catch (...) {
        if (connection)
            connection->self.reset();
        connection_lost(key, std::current_exception());
    }
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
