// Options of a session factory's connection pool.
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>

namespace soci {
class session;
}
namespace spdlog {
class logger;
}

namespace asio_soci {

/// Options of make_session_factory(). An aggregate, so designated initialisers work:
/// `make_session_factory(url, {.pool_size = 8, .acquire_timeout = 5s})`.
/// A zero duration switches the corresponding feature off; negative durations and a
/// pool_size of 0 are rejected with std::invalid_argument.
struct pool_options {
    /// Connections the pool holds at most. They are opened lazily, on worker threads.
    /// An in-memory SQLite database (`sqlite://`) always gets exactly one connection,
    /// since every SQLite connection to ":memory:" would see a database of its own.
    std::size_t pool_size = 5;

    /// How long async_acquire() waits in the FIFO queue for a free connection before
    /// failing with asio_soci::pool_timeout. On PostgreSQL it also bounds opening a
    /// connection and waiting for the server to acknowledge what was sent (libpq's
    /// connect_timeout and tcp_user_timeout, between 2 and 30 s), unless the URL sets
    /// them: a server that does not answer fails with connection_error.
    std::chrono::milliseconds acquire_timeout = std::chrono::seconds{30};

    /// Acquisitions that may wait in the queue at once; one more fails at once with
    /// asio_soci::pool_timeout instead of waiting, so that an overloaded server sheds
    /// load at once rather than holding every request for acquire_timeout. 0: no limit.
    std::size_t max_waiting = 0;

    /// Threads that run database work (tornado-sqlalchemy's set_max_workers); 0 means pool_size.
    std::size_t worker_threads = 0;

    /// A connection older than this is closed and reopened when next handed out.
    std::chrono::milliseconds max_lifetime = std::chrono::milliseconds::zero();

    /// A connection idle for longer than this is closed and reopened when next
    /// handed out.
    std::chrono::milliseconds idle_timeout = std::chrono::milliseconds::zero();

    /// Validate a connection with a round trip before handing it out (SQLAlchemy's
    /// pool_pre_ping). Without it, PostgreSQL connections that the server has closed
    /// are still detected, without a round trip, by a non-blocking read at checkout.
    bool pre_ping = false;

    /// Runs on a worker thread for every newly opened connection, before its first use
    /// (e.g. `sql << "PRAGMA foreign_keys = ON"`). An exception fails the acquisition
    /// and the connection is discarded.
    std::function<void(soci::session&)> on_connect{};

    /// Where connects, disconnects, pool exhaustion, slow calls and PostgreSQL's notices
    /// are logged; null means the library's logger "asio_soci", on stderr (made on
    /// first use, or taken from spdlog's registry when the application made one).
    std::shared_ptr<spdlog::logger> logger{};

    /// Sessions in autocommit mode: as_future(session, fn) runs fn without beginning a
    /// transaction, so each statement commits on its own unless async_begin() opened
    /// one (SQLAlchemy's isolation_level="AUTOCOMMIT"). Off by default: a session's
    /// first call begins a transaction, which async_commit() ends, and whatever is
    /// uncommitted when the session goes back is rolled back. Read-mostly servers
    /// save a BEGIN and a ROLLBACK round trip per request with it.
    bool autocommit = false;

    /// PostgreSQL: connections that pg::async_query(factory, ...) uses at most per
    /// io_context (at most pool_size). Calls made while they are all busy are queued and
    /// sent together when one comes free: fewer connections batch more calls per round
    /// trip, more connections run more of them in parallel on the server.
    std::size_t pipeline_connections = 2;

    /// Calls on a session that take longer are logged at warn level with their SQL.
    std::chrono::milliseconds slow_call_threshold = std::chrono::milliseconds::zero();
};

}  // namespace asio_soci
