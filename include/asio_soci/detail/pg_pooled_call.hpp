// pg_pooled_call: pg::async_query(factory, ...) as the compiled driver sees it. The call
// needs no session: the pool's pipeline (src/drivers/pg_pipeline.cpp) sends it on a
// connection that it keeps for the calls of the same io_context, together with the
// calls queued meanwhile, each followed by a sync of its own.
#pragma once

#include <asio_soci/detail/pg_operation.hpp>
#include <asio_soci/detail/pool_interface.hpp>
#include <asio_soci/pg/result.hpp>

#include <asio/any_io_executor.hpp>

#include <exception>
#include <memory>
#include <utility>

namespace asio_soci::detail {

class pg_pipeline;
class pg_group;

/// Owned by the pipeline while queued, by its group while sent, then by its posted
/// completion.
class pg_pooled_call {
public:
    /// Posts the user handler with the error or the result. Called once, as the driver's
    /// last use of the call.
    virtual void complete() noexcept = 0;

protected:
    /// `io`: where its group waits for the socket; calls with the same execution
    /// context share connections. `owner` (not null) is kept until the upcall.
    pg_pooled_call(std::shared_ptr<pool> owner, asio::any_io_executor io,
                   pg_statement statement) noexcept
        : owner_(std::move(owner)), io_(std::move(io)), statement_(std::move(statement)) {}
    ~pg_pooled_call() = default;

    pool& owner() const noexcept { return *owner_; }
    std::shared_ptr<pool> take_owner() noexcept { return std::move(owner_); }
    std::exception_ptr take_error() noexcept { return std::move(error_); }
    pg::result take_result() noexcept { return std::move(result_); }

private:
    friend class pg_pipeline;
    friend class pg_group;

    std::shared_ptr<pool> owner_;
    asio::any_io_executor io_;
    pg_statement statement_;
    pg::result result_;
    std::exception_ptr error_;
    // Guarded by the pipeline's mutex: when it was queued, whether it left the queue,
    // and the group it was sent in until that group completes.
    clock::time_point queued_at_{};
    bool sent_ = false;
    std::shared_ptr<pg_group> group_;
};

/// Queues `call` on the pool's pipeline (sent at once when a connection is free). A call
/// that waits longer than pool_options::acquire_timeout in the queue, or finds
/// max_waiting calls queued already, fails with pool_timeout.
void submit_pooled_pg(pg_pooled_call& call);
/// Any cancellation type: a call still queued completes at once with operation_aborted;
/// one already sent completes with its real outcome (cancelling it on the server would
/// stop the calls sent with it).
void cancel_pooled_pg(pg_pooled_call& call) noexcept;
/// The call's context shuts down: a queued call completes aborted; a sent one's group is
/// finished on a worker.
void shutdown_pooled_pg(pg_pooled_call& call) noexcept;

}  // namespace asio_soci::detail
