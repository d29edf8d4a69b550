// Driver-level calls on a soci::session, through its native handle: what SOCI does not
// offer (the transaction status without a round trip, a statement run as written).
// src/drivers/ is the only code that includes libpq or sqlite3 headers.
#pragma once

#include <asio_soci/database_url.hpp>

#include <exception>
#include <optional>
#include <string>

struct pg_conn;    // libpq's PGconn
struct pg_result;  // libpq's PGresult

namespace soci {
class session;
}

namespace asio_soci::detail {

/// A connection's transaction status, read without a round trip.
enum class transaction_state {
    idle,
    in_transaction,
    failed,   // PostgreSQL: a statement failed; only a rollback ends the transaction
    unknown,  // the backend gives no status (MySQL through SOCI)
    broken,
};

/// From a native handle (PGconn* or sqlite3*) of `kind`.
transaction_state native_transaction_status(backend kind, void* handle) noexcept;
/// The status of a session's connection, without a round trip.
transaction_state transaction_status_of(soci::session& sql);
/// The backend an open session uses; nullopt for one the library does not know.
std::optional<backend> backend_of(soci::session& sql);
/// The PGconn of a session open on PostgreSQL.
pg_conn* postgresql_handle(soci::session& sql);
/// Runs one statement through the driver itself, so that SOCI's ":name" placeholder
/// rewriting never touches its text (PostgreSQL and SQLite). Throws the backend's
/// soci_error type (with the SQLite result code or the PostgreSQL SQLSTATE): its
/// message is the driver's, the statement its context.
void execute_native(soci::session& sql, const std::string& statement);
/// A PostgreSQL error result (without one: the connection's error) as the
/// soci::postgresql_soci_error SOCI would throw, with `statement` (if any) as its context.
std::exception_ptr postgresql_error(const pg_result* result, const pg_conn* conn,
                                    const std::string& statement);

}  // namespace asio_soci::detail
