// native_connection: a pooled connection's native side, behind one interface for every
// backend: open and configure it, read its transaction status, check that it is alive,
// cancel what it runs.
#pragma once

#include "native_session.hpp"

#include <asio_soci/database_url.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

namespace soci {
class session;
}

namespace spdlog {
class logger;
}

namespace asio_soci::detail {

class pg_socket_registration;

/// Settings derived from a URL once, at factory creation (so bad values fail early).
struct connect_settings {
    asio_soci::backend kind;
    std::string connect_string;  // contains the password: never logged
    int sqlite_busy_timeout_ms = 5000;
    std::string sqlite_journal_mode;     // empty: leave as is (in-memory databases)
    bool pg_prepared_statements = true;  // prepared_statements=off: the zero-hop API's unnamed
};
/// `acquire_timeout` bounds PostgreSQL's connect and acknowledgement waits unless the
/// URL sets connect_timeout / tcp_user_timeout.
connect_settings make_connect_settings(const database_url& url,
                                       std::chrono::milliseconds acquire_timeout);

/// Once per process, before the first connection of `kind` is used: builds the backend
/// library's lazily initialised statics on the calling thread (see native_connection.cpp).
void initialize_backend_statics(asio_soci::backend kind);

/// A connection's native handle, kept beside its soci::session.
class native_connection {
public:
    native_connection() = default;
    ~native_connection();
    native_connection(const native_connection&) = delete;
    native_connection& operator=(const native_connection&) = delete;

    /// Opens `sql` and applies the settings (SQLite busy timeout and journal mode).
    /// PostgreSQL's notices (NOTICE, WARNING...) go to `notices`, one line each, instead
    /// of libpq's stderr; it must outlive the connection. Blocks: call on a worker.
    void open(soci::session& sql, const connect_settings& settings, spdlog::logger& notices);
    /// Forgets the handle; call before the soci::session is destroyed.
    void close() noexcept;

    /// From the native status, without a round trip.
    transaction_state transaction_status() const noexcept;
    /// Without a round trip (one poll()): false when an idle connection has something
    /// to read, most often because the server has closed it; ping() tells for sure.
    /// Only while nobody else uses the connection.
    bool looks_alive() noexcept;
    /// Rolls back the open transaction (blocks: call on a worker); true when it had
    /// written something: SQLite, a write transaction; PostgreSQL, a transaction id was
    /// assigned (asked in the rollback's round trip), or a statement of it had failed.
    /// Throws when the rollback fails.
    bool rollback(soci::session& sql);
    /// SQLite: resets the statements left unfinished (a kept statement whose rows were
    /// not all fetched), which would otherwise hold a read transaction open, so that the
    /// next user of the connection would read an old snapshot. No I/O; returns how many.
    /// Only while nobody else uses the connection.
    std::size_t end_unfinished_statements() noexcept;
    /// A round trip (PostgreSQL: an empty query). Blocks: call on a worker.
    bool ping(soci::session& sql) noexcept;
    /// Marks the start and the end of an operation's use of the connection; `id`
    /// identifies the operation for interrupt(). end_operation() waits (bounded) for a
    /// PostgreSQL cancel request still under way, so that it cannot land on the next
    /// operation's statement; false when it got no answer in time: the connection must
    /// then be closed. `interrupt_requested` false promises that interrupt() has not
    /// been and will not be called with this operation's id (the common case, lock-free).
    void begin_operation(std::uint64_t id) noexcept;
    [[nodiscard]] bool end_operation(bool interrupt_requested) noexcept;
    /// Asks the database to stop what operation `id` runs, if it still runs: SQLite's
    /// sqlite3_interrupt, or a PostgreSQL cancel request sent from a thread of its own
    /// (it connects to the server, which may not answer). Thread-safe, never blocks.
    void interrupt(std::uint64_t id) noexcept;

    /// PostgreSQL: the connection's PGconn; null for another backend or when closed.
    pg_conn* postgresql_handle() const noexcept {
        return kind_ == asio_soci::backend::postgresql ? static_cast<pg_conn*>(handle_) : nullptr;
    }
    /// The statements the zero-hop PostgreSQL path has prepared on this connection
    /// (src/drivers/pg_exchange.cpp); emptied when the connection closes.
    struct prepared_statements {
        bool enabled = true;  // connect_settings::pg_prepared_statements
        std::unordered_map<std::string, std::string> names;  // key (SQL, types) -> name
        std::uint64_t last_number = 0;
    };
    prepared_statements& pg_statements() noexcept { return pg_statements_; }
    /// The zero-hop path's registration of the connection's socket with the I/O context
    /// it last waited on (src/drivers/pg_socket.hpp); released when the connection closes.
    std::shared_ptr<pg_socket_registration>& pg_socket() noexcept { return pg_socket_; }

private:
    asio_soci::backend kind_{asio_soci::backend::sqlite3};
    void* handle_ = nullptr;      // PGconn* or sqlite3*
    struct cancel_request;        // a PostgreSQL cancel request under way, shared with its thread
    std::mutex interrupt_mutex_;  // keeps handle_ open while interrupt() uses it
    std::atomic<std::uint64_t> running_{0};   // id of the running operation, 0: none
    std::atomic<bool> interrupted_{false};    // SQLite: the running operation is cancelled
    std::shared_ptr<cancel_request> cancel_;  // guarded by interrupt_mutex_
    prepared_statements pg_statements_;
    std::shared_ptr<pg_socket_registration> pg_socket_;
};

}  // namespace asio_soci::detail
