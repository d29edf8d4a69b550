// pg_operation: a zero-hop PostgreSQL call as the compiled driver sees it. The driver
// (src/drivers/pg_exchange.cpp) borrows the session's connection from its strand, sends
// the statements with libpq's asynchronous API and reads the results while waiting on the
// socket through the operation's I/O executor, never on a worker thread.
#pragma once

#include <asio_soci/detail/pg_parameters.hpp>
#include <asio_soci/detail/pool_interface.hpp>
#include <asio_soci/pg/result.hpp>

#include <asio/any_io_executor.hpp>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <memory>
#include <string>
#include <vector>

namespace asio_soci::detail {

class pg_exchange;

struct pg_statement {
    std::string sql;
    pg_parameters parameters;
};

/// Owned by whoever holds it: the connection's strand while queued, the exchange while
/// it runs, then its posted completion.
class pg_operation {
public:
    /// Posts the user handler (with the error or the results, or operation_aborted when
    /// `aborted`). Called once, as the driver's last use of the operation.
    virtual void complete(bool aborted) noexcept = 0;

protected:
    /// `io`: where the exchange waits for the socket. `autobegin`: begin a transaction
    /// first when none is open (the factory is not in autocommit mode). `batch`: a
    /// failing statement is reported as a pg::batch_error that names it.
    pg_operation(asio::any_io_executor io, std::vector<pg_statement> statements, bool autobegin,
                 bool batch) noexcept
        : io_(std::move(io)),
          statements_(std::move(statements)),
          autobegin_(autobegin),
          batch_(batch) {}
    /// A group of independent calls (src/drivers/pg_pipeline.cpp): a sync follows each
    /// call's statements, after statement number `sync_after[k]` for call k, so that each
    /// runs as an implicit transaction of its own and a failure stays inside its call.
    pg_operation(asio::any_io_executor io, std::vector<pg_statement> statements,
                 std::vector<std::size_t> sync_after) noexcept
        : io_(std::move(io)),
          statements_(std::move(statements)),
          autobegin_(false),
          batch_(false),
          sync_after_(std::move(sync_after)) {}
    ~pg_operation() = default;

    std::exception_ptr take_error() noexcept { return std::move(error_); }
    std::vector<pg::result> take_results() noexcept { return std::move(results_); }
    /// A group's: the error of each call (null when it succeeded).
    std::vector<std::exception_ptr> take_call_errors() noexcept { return std::move(call_errors_); }
    const asio::any_io_executor& io() const noexcept { return io_; }

private:
    friend class pg_exchange;

    asio::any_io_executor io_;
    std::vector<pg_statement> statements_;
    const bool autobegin_;
    const bool batch_;
    const std::vector<std::size_t> sync_after_;  // a group's; empty: one sync at the end
    std::vector<pg::result> results_;            // one per statement, filled by the exchange
    // A group's: error_ is the connection's (every call not answered gets it), and each
    // call's own SQL error is in call_errors_.
    std::exception_ptr error_;
    std::vector<std::exception_ptr> call_errors_;
    // queued -> running -> finished, or queued -> cancelled (taken out unrun); see
    // src/drivers/pg_exchange.cpp.
    std::atomic<int> state_{0};
    std::atomic<std::uint64_t> id_{0};  // set when it starts, so a cancel request can name it
    std::atomic<std::shared_ptr<pg_exchange>> exchange_;  // set before it starts running
};

/// Runs `op` on the connection: at once, on the calling thread, when nothing else runs
/// on it; otherwise after the work queued before it.
void submit_pg(connection_slot& slot, pg_operation& op);
/// Any cancellation type: a queued operation completes at once, unrun; a running one asks
/// the server to cancel and completes with operation_aborted once the server has
/// stopped it and the connection is drained (or with its real outcome if it had ended).
void cancel_pg(connection_slot& slot, pg_operation& op) noexcept;
/// The operation's context shuts down: a running exchange is finished on a worker.
void shutdown_pg(connection_slot& slot, pg_operation& op) noexcept;
/// True when the session's connection is a PostgreSQL one.
bool is_postgresql(const pool& p) noexcept;

}  // namespace asio_soci::detail
