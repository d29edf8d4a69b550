// pg_pipeline: the calls of pg::async_query(factory, ...), sent in groups on connections
// kept per io_context (a lane). A lane takes up to pool_options::pipeline_connections
// connections from the pool; a call made while they are all busy waits in the lane's
// queue, and a connection that comes back from a group takes everything queued (up to
// a bound) as its next group: one write and one round trip for many requests, each call
// followed by a sync of its own, so each is an implicit transaction.
#pragma once

#include <asio_soci/detail/pool_interface.hpp>

#include <asio/any_io_executor.hpp>
#include <asio/execution_context.hpp>
#include <asio/steady_timer.hpp>

#include <cstddef>
#include <exception>
#include <memory>
#include <mutex>
#include <unordered_map>
#include <vector>

namespace asio_soci::detail {

class pool;
class pg_pooled_call;
class pg_group;
class pg_lane_connection;

class pg_pipeline {
public:
    explicit pg_pipeline(pool& owner);
    pg_pipeline(const pg_pipeline&) = delete;
    pg_pipeline& operator=(const pg_pipeline&) = delete;

    /// The pipeline of the call's pool.
    static pg_pipeline& of(const pg_pooled_call& call) noexcept;

    void submit(pg_pooled_call& call);
    void cancel(pg_pooled_call& call) noexcept;
    void shut_down(pg_pooled_call& call) noexcept;
    /// The pool is being destroyed: the queue timeout is not armed again.
    void stop() noexcept;

private:
    friend class pg_lane_connection;
    friend class pg_group;
    using lane_key = const asio::execution_context*;
    struct lane {
        std::vector<pg_pooled_call*> queued;  // FIFO
        std::size_t connections = 0;          // held or being acquired
    };

    /// Takes the next calls of the connection's lane as a group, and sends them; when
    /// none is queued, gives the connection back to the pool.
    void send_next_group(std::shared_ptr<pg_lane_connection> connection) noexcept;
    /// The connection is gone (its acquisition failed, its group broke it, its context
    /// dropped it): the lane counts it out, and gets a new one if calls still wait.
    /// `error`: when it was the lane's last, the calls queued fail with it.
    void connection_lost(lane_key key, const std::exception_ptr& error) noexcept;
    /// Starts acquiring a connection for the lane of `key` (counted in already).
    void connect(lane_key key, std::shared_ptr<pool> owner, asio::any_io_executor io) noexcept;
    /// Takes `call` out of its lane's queue; false when it has left it.
    bool withdraw(pg_pooled_call& call) noexcept;
    static lane_key key_of(const pg_pooled_call& call) noexcept;
    void erase_if_unused(lane_key key) noexcept;  // with mutex_ held
    // The queue timeout: one timer for every lane, armed for the oldest call queued.
    void arm_timer(clock::time_point deadline);  // with mutex_ held
    void on_timer() noexcept;
    std::exception_ptr queue_timeout(std::size_t still_queued) const;

    pool& owner_;
    std::mutex mutex_;
    std::unordered_map<lane_key, lane> lanes_;
    asio::steady_timer timer_;  // on the pool's timer thread
    bool timer_armed_ = false;
    bool stopped_ = false;
};

}  // namespace asio_soci::detail
