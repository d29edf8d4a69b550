#include "native_connection.hpp"
#include "native_session.hpp"
#include "pg_aborting_error.hpp"
#include "sqlite_functions.hpp"

#include <asio_soci/errors.hpp>

#include <soci/postgresql/soci-postgresql.h>
#include <soci/soci.h>
#include <soci/sqlite3/soci-sqlite3.h>  // declares sqlite3's API in namespace sqlite_api
#include <spdlog/spdlog.h>

#include <poll.h>
#include <algorithm>
#include <cctype>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <stdexcept>
#include <thread>

namespace asio_soci::detail {

using namespace sqlite_api;

namespace {

// The journal mode is a property of the database file. Switching it needs the file to
// itself, and several new connections switching at once fail with "database is locked"
// (no busy wait for that lock), so switches are serialised and skipped when not needed.
void set_journal_mode(soci::session& sql, sqlite3* db, const std::string& mode) {
    static std::mutex switching;
    std::lock_guard lock{switching};
    std::string current;
    auto read_mode = [](void* out, int, char** values, char**) {
        if (values[0])
            *static_cast<std::string*>(out) = values[0];
        return 0;
    };
    if (sqlite3_exec(db, "PRAGMA journal_mode", read_mode, &current, nullptr) == SQLITE_OK &&
        std::equal(current.begin(), current.end(), mode.begin(), mode.end(),
                   [](char a, char b) { return std::tolower(a) == std::tolower(b); }))
        return;
    execute_native(sql, "PRAGMA journal_mode = " + mode);
}

// libpq waits for a connection, and for the acknowledgement of what it sent, without a
// limit by default: a host that does not answer would hold a worker, and the request
// waiting for that connection, for minutes. Unless the URL says otherwise, both are
// bounded by the time a request waits for a connection (libpq's minimum is 2 s).
void bound_postgresql_waits(std::string& connect_string, const database_url& url,
                            std::chrono::milliseconds acquire_timeout) {
    using seconds = std::chrono::seconds;
    const auto limit =
        std::clamp(std::chrono::ceil<seconds>(acquire_timeout), seconds{2}, seconds{30});
    if (!url.query().contains("connect_timeout"))
        connect_string += " connect_timeout=" + std::to_string(limit.count());
    if (!url.query().contains("tcp_user_timeout"))
        connect_string += " tcp_user_timeout=" + std::to_string(limit.count() * 1000);
}

}  // namespace

connect_settings make_connect_settings(const database_url& url,
                                       std::chrono::milliseconds acquire_timeout) {
    connect_settings settings;
    settings.kind = url.backend();
    settings.connect_string = url.soci_connect_string();
    if (url.backend() == backend::postgresql) {
        bound_postgresql_waits(settings.connect_string, url, acquire_timeout);
        const auto prepared = url.query().find(std::string(database_url::prepared_statements_key));
        settings.pg_prepared_statements =
            prepared == url.query().end() || prepared->second != "off";
    }
    if (url.backend() != backend::sqlite3)
        return settings;
    if (!url.is_sqlite_memory())
        settings.sqlite_journal_mode = "wal";
    // database_url::parse() has checked them.
    const auto& query = url.query();
    if (const auto busy = query.find("busy_timeout"); busy != query.end())
        settings.sqlite_busy_timeout_ms = std::stoi(busy->second);
    if (const auto mode = query.find("journal_mode"); mode != query.end())
        settings.sqlite_journal_mode = mode->second;
    return settings;
}

// SOCI 4.0.3's SQLite backend builds a table of column type names in a function-local
// static the first time it describes a column (a soci::row, rowset<row>). The guard is
// thread-safe, but its fast path runs in an uninstrumented library, so ThreadSanitizer
// reports every later describe on another thread as a race with the first. Building it
// here, once, before any worker uses a connection, gives those describes a visible
// happens-before edge (std::call_once, then the post to a worker) at the cost of one
// in-memory connection per process.
void initialize_backend_statics(asio_soci::backend kind) {
    if (kind != backend::sqlite3)
        return;
    static std::once_flag once;
    std::call_once(once, [] {
        soci::session sql{soci::sqlite3, ":memory:"};
        soci::row row;
        sql << "select 1", soci::into(row);
    });
}

native_connection::~native_connection() {
    close();
}

namespace {

// libpq's notice receiver: the server's NOTICE/WARNING/... messages, as log lines.
// NOTICE goes to debug: the server sends it for routine events ("relation ... already
// exists, skipping" for CREATE TABLE IF NOT EXISTS, on every migration run).
void log_notice(void* logger, const PGresult* notice) {
    const char* severity = PQresultErrorField(notice, PG_DIAG_SEVERITY_NONLOCALIZED);
    const char* text = PQresultErrorField(notice, PG_DIAG_MESSAGE_PRIMARY);
    const std::string_view level = severity ? severity : "NOTICE";
    std::string line =
        std::string("asio_soci: PostgreSQL ") + std::string(level) + ": " + (text ? text : "");
    std::replace_if(
        line.begin(), line.end(), [](char c) { return c == '\n' || c == '\t'; }, ' ');
    auto& log = *static_cast<spdlog::logger*>(logger);
    if (level == "WARNING")
        log.warn("{}", line);
    else if (level == "INFO")
        log.info("{}", line);
    else
        log.debug("{}", line);  // NOTICE, DEBUG, LOG
}

}  // namespace

void native_connection::open(soci::session& sql, const connect_settings& settings,
                             spdlog::logger& notices) {
    close();
    kind_ = settings.kind;
    switch (settings.kind) {
        case backend::postgresql: {
            sql.open(soci::postgresql, settings.connect_string);
            PGconn* conn = detail::postgresql_handle(sql);
            PQsetNoticeReceiver(conn, log_notice, &notices);
            if (!remember_aborting_errors(conn))
                throw connection_error("asio_soci: libpq refused to register an event procedure");
            pg_statements_.enabled = settings.pg_prepared_statements;
            std::lock_guard lock{interrupt_mutex_};
            handle_ = conn;
            break;
        }
        case backend::sqlite3: {
            sql.open(soci::sqlite3, settings.connect_string);
            auto* db = static_cast<soci::sqlite3_session_backend*>(sql.get_backend())->conn_;
            {
                std::lock_guard lock{interrupt_mutex_};
                handle_ = db;
            }
            sqlite3_busy_timeout(db, settings.sqlite_busy_timeout_ms);
            // Errors say which constraint kind failed (SQLITE_CONSTRAINT_UNIQUE...).
            sqlite3_extended_result_codes(db, 1);
            // sqlite3_interrupt() stops only the statements running when it is called;
            // this stops the later ones of a cancelled operation too.
            sqlite3_progress_handler(
                db, 1000,
                [](void* self) -> int {
                    return static_cast<native_connection*>(self)->interrupted_.load(
                        std::memory_order_relaxed);
                },
                this);
            if (!settings.sqlite_journal_mode.empty())
                set_journal_mode(sql, db, settings.sqlite_journal_mode);
            register_sqlite_functions(sql);
            break;
        }
        case backend::mysql:
            // Loaded by name through SOCI's backend loader: no MySQL headers needed here.
            sql.open("mysql", settings.connect_string);
            break;
    }
}

void native_connection::close() noexcept {
    pg_socket_.reset();  // a duplicate of the closing socket: forgotten by its reactor
    std::lock_guard lock{interrupt_mutex_};
    handle_ = nullptr;
    pg_statements_.names.clear();  // they die with the server's session
    pg_statements_.last_number = 0;
}

transaction_state native_connection::transaction_status() const noexcept {
    if (!handle_)
        return kind_ == backend::mysql ? transaction_state::unknown : transaction_state::broken;
    return native_transaction_status(kind_, handle_);
}

bool native_connection::looks_alive() noexcept {
    if (kind_ != backend::postgresql || !handle_)
        return true;
    auto* conn = static_cast<PGconn*>(handle_);
    if (PQstatus(conn) != CONNECTION_OK)
        return false;
    // An idle connection has nothing to say: data or an EOF waiting there is most often
    // the server's goodbye (a terminated backend, a restart). One poll(), no round trip.
    pollfd socket{PQsocket(conn), POLLIN, 0};
    return ::poll(&socket, 1, 0) == 0;
}

bool native_connection::rollback(soci::session& sql) {
    if (kind_ == backend::sqlite3 && handle_) {
        const bool wrote =
            sqlite3_txn_state(static_cast<sqlite3*>(handle_), nullptr) == SQLITE_TXN_WRITE;
        sql.rollback();
        return wrote;
    }
    if (kind_ != backend::postgresql || !handle_) {
        sql.rollback();
        return false;
    }
    auto* conn = static_cast<PGconn*>(handle_);
    if (PQtransactionStatus(conn) != PQTRANS_INTRANS) {  // failed: its writes are void
        sql.rollback();
        return true;
    }
    // Whether the transaction wrote (it has a transaction id then), in the round trip of
    // the rollback itself.
    if (!PQsendQuery(conn, "SELECT txid_current_if_assigned() IS NOT NULL; ROLLBACK"))
        throw std::runtime_error(PQerrorMessage(conn));
    bool wrote = false;
    bool failed = false;
    while (PGresult* result = PQgetResult(conn)) {
        switch (PQresultStatus(result)) {
            case PGRES_TUPLES_OK:
                wrote = PQntuples(result) == 1 && *PQgetvalue(result, 0, 0) == 't';
                break;
            case PGRES_COMMAND_OK:
                break;
            default:
                failed = true;
        }
        PQclear(result);
    }
    if (failed)
        throw std::runtime_error(PQerrorMessage(conn));
    return wrote;
}

std::size_t native_connection::end_unfinished_statements() noexcept {
    if (kind_ != backend::sqlite3 || !handle_)
        return 0;
    auto* db = static_cast<sqlite3*>(handle_);
    std::size_t ended = 0;
    for (auto* statement = sqlite3_next_stmt(db, nullptr); statement;
         statement = sqlite3_next_stmt(db, statement))
        if (sqlite3_stmt_busy(statement)) {
            sqlite3_reset(statement);
            ++ended;
        }
    return ended;
}

bool native_connection::ping(soci::session& sql) noexcept {
    if (kind_ == backend::postgresql && handle_) {
        PGresult* result = PQexec(static_cast<PGconn*>(handle_), "");
        bool ok = result && PQresultStatus(result) == PGRES_EMPTY_QUERY;
        PQclear(result);
        return ok;
    }
    return sql.is_connected();
}

struct native_connection::cancel_request {
    std::mutex mutex;
    std::condition_variable answered_cv;
    bool answered = false;  // guarded by mutex
};

namespace {
// How long the end of an operation waits for its cancel request's answer. A server
// answers within milliseconds; one that does not may still act on the request later,
// so the connection is not reused after that.
constexpr std::chrono::seconds cancel_answer_timeout{2};
}  // namespace

void native_connection::begin_operation(std::uint64_t id) noexcept {
    running_.store(id, std::memory_order_relaxed);
}

bool native_connection::end_operation(bool interrupt_requested) noexcept {
    if (!interrupt_requested) {  // no interrupt() for this operation, now or later
        running_.store(0, std::memory_order_relaxed);
        return true;
    }
    std::shared_ptr<cancel_request> request;
    {
        std::lock_guard lock{interrupt_mutex_};  // no interrupt() lands after this
        running_.store(0, std::memory_order_relaxed);
        interrupted_.store(false, std::memory_order_relaxed);
        request = std::move(cancel_);
    }
    if (!request)
        return true;
    std::unique_lock lock{request->mutex};
    return request->answered_cv.wait_for(lock, cancel_answer_timeout,
                                         [&] { return request->answered; });
}

void native_connection::interrupt(std::uint64_t id) noexcept {
    std::lock_guard lock{interrupt_mutex_};
    if (!handle_ || running_.load(std::memory_order_relaxed) != id)
        return;
    if (kind_ == backend::sqlite3) {
        interrupted_.store(true, std::memory_order_relaxed);
        sqlite3_interrupt(static_cast<sqlite3*>(handle_));  // sets a flag: returns at once
        return;
    }
    if (kind_ != backend::postgresql || cancel_)
        return;  // MySQL: no cancel; PostgreSQL: one request per operation is enough
    PGcancel* cancel = PQgetCancel(static_cast<PGconn*>(handle_));
    if (!cancel)
        return;
    auto request = std::make_shared<cancel_request>();
    try {
        // PQcancel connects to the server and waits for it to close the connection,
        // with no time limit: on a thread of its own, which may outlive the pool.
        std::thread([cancel, request] {
            char message[256];
            PQcancel(cancel, message, sizeof message);
            PQfreeCancel(cancel);
            std::lock_guard lock{request->mutex};
            request->answered = true;
            request->answered_cv.notify_all();
        }).detach();
        cancel_ = std::move(request);
    } catch (...) {  // no thread to be had: the statement runs to its end
        PQfreeCancel(cancel);
    }
}

}  // namespace asio_soci::detail
