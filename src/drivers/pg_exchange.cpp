// The zero-hop PostgreSQL path: a pg_operation's statements sent with libpq's
// asynchronous API in pipeline mode, and their results read as the socket becomes
// readable, on the operation's I/O executor (the caller's io_context): no worker thread
// is involved unless the call is cancelled or its context shuts down.
//
// The connection is borrowed from its strand (pool::lend), so zero-hop calls and
// as_future calls on one session run in submission order, one at a time. It goes back
// as SOCI expects it: blocking, out of pipeline mode, nothing pending.
#include "pg_exchange.hpp"

#include "../core/core_access.hpp"
#include "../core/pool.hpp"
#include "error_classification.hpp"
#include "native_session.hpp"
#include "pg_socket.hpp"

#include <asio_soci/detail/handler_holder.hpp>
#include <asio_soci/detail/pg_operation.hpp>
#include <asio_soci/errors.hpp>
#include <asio_soci/pg/batch.hpp>

#include <asio/bind_executor.hpp>
#include <asio/posix/stream_descriptor.hpp>
#include <asio/post.hpp>

#include <libpq-fe.h>
#include <poll.h>

#include <algorithm>
#include <cstring>
#include <mutex>
#include <optional>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

namespace asio_soci::detail {

namespace pg_state {
// queued -> running -> finished; queued -> cancelled (the starter or cancel_pg ends it
// unrun); running -> cancel_requested -> finished (the server was asked to stop it).
constexpr int queued = 0, running = 1, cancel_requested = 2, cancelled = 3, finished = 4;
}  // namespace pg_state

// Named statements prepared per connection, at most this many; statements beyond it run
// unnamed (parsed on every call).
constexpr std::size_t prepared_statement_limit = 256;

class pg_exchange : public std::enable_shared_from_this<pg_exchange> {
public:
    pg_exchange(connection_slot& slot, pg_operation& op)
        : slot_(slot), op_(op), conn_(slot.native.postgresql_handle()) {}

    // The entry points of pg_operation.hpp.
    static void submit(connection_slot& slot, pg_operation& op);
    static void cancel(connection_slot& slot, pg_operation& op) noexcept;
    static void shut_down(connection_slot& slot, pg_operation& op) noexcept;
    /// The strand has lent `slot` to `op` (pool::lend): runs it, or ends it unrun when it
    /// was cancelled meanwhile.
    static void lent(connection_slot& slot, pg_operation& op) noexcept;

private:
    // What the pipeline answers, in order: one entry per command sent.
    enum class answer : std::uint8_t { begin, prepare, statement, sync };
    struct expected {
        answer what;
        std::size_t statement;  // prepare, statement: index into op_.statements_
        std::string prepared;   // prepare: the name to record once the server has it
    };

    void start() noexcept;
    void send();
    void sync();  // a pipeline sync: the end of an implicit transaction
    // Flushes, reads what has arrived and processes it; then waits, or finishes.
    void advance() noexcept;
    // Processes every result that can be had without blocking; true when all are in.
    bool take_results();
    void on_result(PGresult* result);
    /// Queues a wait for the socket to become readable (writable while flushing). Asio
    /// completes it at once when the socket is ready already (epoll: its EPOLL_CTL_MOD
    /// re-arms the edge-triggered registration).
    void wait();
    void on_ready();
    [[noreturn]] void fail_connection(const char* doing);
    void finish() noexcept;
    // A statement's error as the batch_error that names it.
    std::exception_ptr batch_failure(const std::exception_ptr& error) const noexcept;
    // The operation's context shuts down: the rest is read on a worker, blocking.
    void take_over() noexcept;
    void hand_to_worker();  // with mutex_ held
    void finish_blocking() noexcept;

    const std::string& statement_text(std::size_t i) const { return op_.statements_[i].sql; }

    connection_slot& slot_;
    pg_operation& op_;  // until finish()
    PGconn* const conn_;

    std::mutex mutex_;  // the exchange's steps: io thread, starter, shutdown
    std::shared_ptr<pg_socket_registration> socket_;
    std::vector<expected> expected_;
    std::size_t next_ = 0;   // the first answer not yet complete
    bool flushing_ = false;  // output remains to be sent
    bool waiting_ = false;   // a wait is queued on socket_
    bool in_pipeline_ = false;
    bool cancelled_by_server_ = false;
    bool taken_over_ = false;
    bool done_ = false;
    std::vector<pg::result> results_;
    std::exception_ptr error_;  // the first, as the driver reported it
    // A group's (op_.sync_after_ not empty): each call's SQL error, and the calls whose
    // sync has answered. error_ is then the connection's.
    std::vector<std::exception_ptr> call_errors_;
    std::size_t syncs_answered_ = 0;
    std::optional<std::size_t> failed_statement_;
    std::string failed_sqlstate_;
};

namespace {

std::string statement_key(const pg_statement& s) {
    std::string key = s.sql;
    key.push_back('\0');
    for (const auto& p : s.parameters.list())
        key.append(std::to_string(p.type)).push_back(',');
    return key;
}

}  // namespace

void pg_exchange::submit(connection_slot& slot, pg_operation& op) {
    slot.owner.lend(slot, op);
}

void pg_exchange::lent(connection_slot& slot, pg_operation& op) noexcept {
    std::shared_ptr<pg_exchange> exchange;
    try {
        exchange = std::make_shared<pg_exchange>(slot, op);
    } catch (...) {
        op.error_ = std::current_exception();
    }
    op.exchange_.store(exchange);  // before it runs: shut_down() finds it
    const auto id = ++slot.operations_started;
    op.id_.store(id, std::memory_order_relaxed);
    slot.native.begin_operation(id);
    if (!exchange || !transition(op.state_, pg_state::queued, pg_state::running)) {
        // Cancelled after a worker took it from the queue (or out of memory): unrun.
        const bool aborted = exchange != nullptr;
        op.state_.store(pg_state::finished, std::memory_order_release);
        slot.owner.end_loan(slot, op, false, aborted, false);
        return;
    }
    exchange->start();
}

void pg_exchange::cancel(connection_slot& slot, pg_operation& op) noexcept {
    if (transition(op.state_, pg_state::queued, pg_state::cancelled)) {
        // Still in the queue: out, and complete at once. Already taken by a worker: lent()
        // sees `cancelled` and ends it unrun.
        if (slot.owner.withdraw(slot, op))
            op.complete(true);
        return;
    }
    if (transition(op.state_, pg_state::running, pg_state::cancel_requested))
        slot.native.interrupt(op.id_.load(std::memory_order_relaxed));
}

void pg_exchange::shut_down(connection_slot& slot, pg_operation& op) noexcept {
    if (transition(op.state_, pg_state::queued, pg_state::cancelled)) {
        if (slot.owner.withdraw(slot, op))
            op.complete(true);  // held by the shutting-down context, not run
        return;
    }
    // Running (its exchange was recorded before it started): interrupted, then finished
    // on a worker, as its context will run nothing more.
    if (auto exchange = op.exchange_.load()) {
        if (transition(op.state_, pg_state::running, pg_state::cancel_requested))
            slot.native.interrupt(op.id_.load(std::memory_order_relaxed));
        exchange->take_over();
    }
}

void pg_exchange::start() noexcept {
    std::lock_guard lock{mutex_};
    if (taken_over_) {                 // its context shut down before a worker could start it
        error_ = operation_aborted();  // finish_blocking() ends it: nothing was sent
        return;
    }
    try {
        if (!conn_ || PQstatus(conn_) != CONNECTION_OK)
            fail_connection("starting");
        socket_ = pg_socket_registration::of(slot_.native, op_.io_);
        if (!socket_) {  // its context shuts down: nothing was sent
            error_ = operation_aborted();
            finish();
            return;
        }
        // No answer can come before the statements are sent: a wait queued first spares
        // the receive that would be tried in vain right after sending.
        wait();
        if (taken_over_) {  // the context shut down meanwhile: a worker ends it, unsent
            error_ = operation_aborted();
            return;
        }
        send();
        if (flushing_)  // the rest is sent once the socket is writable: that wait instead
            socket_->use([](asio::posix::stream_descriptor& socket) { socket.cancel(); });
    } catch (...) {
        if (!error_)
            error_ = std::current_exception();
        finish();
    }
}

void pg_exchange::send() {
    if (PQsetnonblocking(conn_, 1) != 0 || PQenterPipelineMode(conn_) != 1)
        fail_connection("entering pipeline mode");
    in_pipeline_ = true;
    if (op_.autobegin_ && PQtransactionStatus(conn_) == PQTRANS_IDLE) {
        if (PQsendQueryParams(conn_, "BEGIN", 0, nullptr, nullptr, nullptr, nullptr, 0) != 1)
            fail_connection("sending BEGIN");
        expected_.push_back({answer::begin, 0, {}});
    }
    auto& prepared = slot_.native.pg_statements();
    // Prepared in this write, not yet answered: another call of a group with the same
    // text runs unnamed rather than preparing it twice.
    std::vector<std::string> preparing;
    const auto& sync_after = op_.sync_after_;
    std::size_t next_sync = 0;
    call_errors_.resize(sync_after.size());
    std::vector<Oid> types;
    std::vector<const char*> values;
    std::vector<int> lengths, formats;
    for (std::size_t i = 0; i < op_.statements_.size(); ++i) {
        const auto& statement = op_.statements_[i];
        const auto& parameters = statement.parameters.list();
        const int count = static_cast<int>(parameters.size());
        types.clear();
        values.clear();
        lengths.clear();
        formats.clear();
        for (const auto& p : parameters) {
            types.push_back(p.type);
            values.push_back(p.length < 0 ? nullptr
                                          : statement.parameters.data().data() + p.offset);
            lengths.push_back(p.length < 0 ? 0 : p.length);
            formats.push_back(p.format);
        }
        const auto key = statement_key(statement);
        auto found = prepared.names.find(key);
        const std::string* name = found == prepared.names.end() ? nullptr : &found->second;
        std::string new_name;
        if (!name && prepared.enabled && prepared.names.size() < prepared_statement_limit &&
            std::find(preparing.begin(), preparing.end(), key) == preparing.end()) {
            new_name = "asio_soci_" + std::to_string(++prepared.last_number);
            if (PQsendPrepare(conn_, new_name.c_str(), statement.sql.c_str(), count,
                              types.data()) != 1)
                fail_connection("sending a statement");
            expected_.push_back({answer::prepare, i, new_name});
            preparing.push_back(key);
            name = &new_name;
        }
        const int sent = name ? PQsendQueryPrepared(conn_, name->c_str(), count, values.data(),
                                                    lengths.data(), formats.data(), 1)
                              : PQsendQueryParams(conn_, statement.sql.c_str(), count, types.data(),
                                                  values.data(), lengths.data(), formats.data(), 1);
        if (sent != 1)
            fail_connection("sending a statement");
        expected_.push_back({answer::statement, i, {}});
        if (next_sync < sync_after.size() && sync_after[next_sync] == i + 1) {
            sync();
            ++next_sync;
        }
    }
    if (sync_after.empty())
        sync();
    results_.resize(op_.statements_.size());
    const int flushed = PQflush(conn_);  // without a system call when all went out
    if (flushed < 0)
        fail_connection("sending");
    flushing_ = flushed == 1;
}

void pg_exchange::sync() {
    if (PQpipelineSync(conn_) != 1)  // libpq 14 and 15 flush here, as far as the socket takes
        fail_connection("sending a statement");
    expected_.push_back({answer::sync, 0, {}});
}

void pg_exchange::advance() noexcept {
    try {
        if (flushing_) {
            const int flushed = PQflush(conn_);
            if (flushed < 0)
                fail_connection("sending");
            flushing_ = flushed == 1;
        }
        if (!PQconsumeInput(conn_))
            fail_connection("receiving");
        if (take_results()) {
            finish();
            return;
        }
        wait();
    } catch (...) {
        if (!error_)
            error_ = std::current_exception();
        finish();
    }
}

bool pg_exchange::take_results() {
    while (next_ < expected_.size()) {
        if (PQisBusy(conn_))
            return false;
        PGresult* result = PQgetResult(conn_);
        if (!result) {  // the end of a command's results (a sync's answer has none)
            if (expected_[next_].what != answer::sync)
                ++next_;
            continue;
        }
        if (PQresultStatus(result) == PGRES_PIPELINE_SYNC) {
            PQclear(result);
            // Everything before the sync has answered (or was skipped after an error).
            while (expected_[next_].what != answer::sync)
                ++next_;
            ++next_;
            ++syncs_answered_;
            continue;
        }
        if (expected_[next_].what == answer::sync) {
            PQclear(result);
            fail_connection("reading the results: an answer the pipeline did not expect");
        }
        on_result(result);
    }
    return true;
}

void pg_exchange::on_result(PGresult* result) {
    const auto& e = expected_[next_];
    const auto status = PQresultStatus(result);
    const bool ok =
        status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK || status == PGRES_EMPTY_QUERY;
    if (status == PGRES_PIPELINE_ABORTED) {  // after an earlier failure: not run
        PQclear(result);
        return;
    }
    if (!ok) {
        if (!op_.sync_after_.empty()) {  // a group's call: its own error, the others go on
            auto& error = call_errors_[syncs_answered_];
            if (!error)
                error = postgresql_error(result, conn_, statement_text(e.statement));
            PQclear(result);
            return;
        }
        if (!error_) {
            const char* state = PQresultErrorField(result, PG_DIAG_SQLSTATE);
            cancelled_by_server_ = state && std::strcmp(state, "57014") == 0;
            if (e.what != answer::begin) {
                failed_statement_ = e.statement;
                failed_sqlstate_ = state ? state : "";
            }
            const std::string& text =
                e.what == answer::begin ? "BEGIN" : statement_text(e.statement);
            error_ = postgresql_error(result, conn_, text);  // classified at the end
        }
        PQclear(result);
        return;
    }
    switch (e.what) {
        case answer::prepare:
            PQclear(result);
            slot_.native.pg_statements().names.emplace(statement_key(op_.statements_[e.statement]),
                                                       e.prepared);
            break;
        case answer::statement:
            results_[e.statement] = pg::result(result);  // owns it from here
            break;
        default:
            PQclear(result);
            break;
    }
}

void pg_exchange::wait() {
    // Completes on the operation's executor, whichever call registered the socket.
    auto on_wait = asio::bind_executor(
        op_.io_, [self = shared_from_this()](std::error_code) { self->on_ready(); });
    const bool queued = socket_->use([&](asio::posix::stream_descriptor& socket) {
        socket.async_wait(flushing_ ? asio::posix::stream_descriptor::wait_write
                                    : asio::posix::stream_descriptor::wait_read,
                          std::move(on_wait));
    });
    if (!queued) {  // the context shut down: the rest is read on a worker
        hand_to_worker();
        return;
    }
    waiting_ = true;
}

void pg_exchange::on_ready() {
    std::lock_guard lock{mutex_};
    waiting_ = false;
    if (taken_over_ || done_)
        return;
    advance();
}

void pg_exchange::fail_connection(const char* doing) {
    std::string message = conn_ ? PQerrorMessage(conn_) : "no connection";
    while (!message.empty() && message.back() == '\n')
        message.pop_back();
    throw connection_lost(soci::soci_error(std::string("pg: ") + doing + ": " + message), "08006",
                          0, "");
}

void pg_exchange::finish() noexcept {
    done_ = true;
    // Ended early (an error), with a wait queued: its handler must not outlive the loan.
    // Taken over: the context destroys its waits.
    if (waiting_ && !taken_over_)
        socket_->use([](asio::posix::stream_descriptor& socket) { socket.cancel(); });
    socket_.reset();  // the registration stays with the connection
    // Every answer read: the connection goes back as SOCI expects it. Otherwise (it
    // failed, or a step went wrong) its state is unknown: closed, never handed out again.
    const bool clean = next_ == expected_.size() && conn_ && PQstatus(conn_) == CONNECTION_OK &&
                       (!in_pipeline_ || PQexitPipelineMode(conn_) == 1);
    if (conn_)
        PQsetnonblocking(conn_, 0);
    op_.results_ = std::move(results_);
    // Classified once the connection's fate is known: a FATAL error (the server going
    // down) comes before the connection ends, and then means it was lost.
    const bool lost = !conn_ || PQstatus(conn_) != CONNECTION_OK;
    if (!op_.sync_after_.empty()) {
        // A group: the calls answered keep their outcome; the rest get the connection's.
        if (error_)
            op_.error_ = classify_error(error_, lost);
        call_errors_.resize(op_.sync_after_.size());  // empty when nothing was sent
        for (std::size_t k = 0; k < call_errors_.size(); ++k) {
            if (k >= syncs_answered_)
                call_errors_[k] = op_.error_ ? op_.error_ : operation_aborted();
            else if (call_errors_[k])
                call_errors_[k] = classify_error(call_errors_[k], false);
        }
        op_.call_errors_ = std::move(call_errors_);
    } else if (error_) {
        op_.error_ = classify_error(error_, lost);
        // A lost connection is reported as such (connection_lost, what retries key on),
        // not as the failure of the statement that was running.
        if (op_.batch_ && failed_statement_ && !lost)
            op_.error_ = batch_failure(op_.error_);
    }
    const bool interrupted =
        op_.state_.load(std::memory_order_acquire) == pg_state::cancel_requested;
    op_.state_.store(pg_state::finished, std::memory_order_release);
    // Aborted only when the server stopped it: a call that ended before the cancel
    // request reached the server reports its real outcome.
    const bool aborted = interrupted && cancelled_by_server_;
    slot_.owner.end_loan(slot_, op_, interrupted, aborted, !clean);
}

std::exception_ptr pg_exchange::batch_failure(const std::exception_ptr& error) const noexcept {
    try {
        std::rethrow_exception(error);
    } catch (const std::exception& e) {
        // Constructed here, it nests the statement's error (std::nested_exception).
        return std::make_exception_ptr(pg::batch_error(*failed_statement_, op_.statements_.size(),
                                                       failed_sqlstate_, e.what()));
    } catch (...) {
        return std::current_exception();
    }
}

void pg_exchange::take_over() noexcept {
    std::lock_guard lock{mutex_};
    if (done_ || taken_over_)
        return;
    hand_to_worker();
}

void pg_exchange::hand_to_worker() {
    // The context runs nothing more: a wait still queued there is destroyed with it,
    // and its socket's registration is released by pg_socket_registration's service.
    taken_over_ = true;
    asio::post(slot_.owner.executor(), [self = shared_from_this()] { self->finish_blocking(); });
}

void pg_exchange::finish_blocking() noexcept {
    std::lock_guard lock{mutex_};
    try {
        // The server was asked to cancel: its answers come soon, or the connection is
        // closed.
        constexpr int answer_timeout_ms = 5000;
        while (!take_results()) {
            if (flushing_) {
                const int flushed = PQflush(conn_);
                if (flushed < 0)
                    fail_connection("sending");
                flushing_ = flushed == 1;
            }
            pollfd ready{PQsocket(conn_), static_cast<short>(POLLIN | (flushing_ ? POLLOUT : 0)),
                         0};
            if (::poll(&ready, 1, answer_timeout_ms) <= 0)
                fail_connection("waiting for the answer to a cancel request");
            if (!PQconsumeInput(conn_))
                fail_connection("receiving");
        }
    } catch (...) {
        if (!error_)
            error_ = std::current_exception();
    }
    finish();
}

void submit_pg(connection_slot& slot, pg_operation& op) {
    pg_exchange::submit(slot, op);
}

void cancel_pg(connection_slot& slot, pg_operation& op) noexcept {
    pg_exchange::cancel(slot, op);
}

void shutdown_pg(connection_slot& slot, pg_operation& op) noexcept {
    pg_exchange::shut_down(slot, op);
}

void start_pg_exchange(connection_slot& slot, pg_operation& op) noexcept {
    pg_exchange::lent(slot, op);
}

bool is_postgresql(const pool& p) noexcept {
    return p.url().backend() == backend::postgresql;
}

}  // namespace asio_soci::detail
