// Which statement error aborted a PostgreSQL transaction, remembered from libpq's result
// events: once fn has caught SOCI's exception nothing else keeps it, and PostgreSQL
// answers the COMMIT with a plain ROLLBACK. With it, a refused commit names its cause,
// and retry_policy can retry a serialization failure or deadlock that fn caught.
#pragma once

#include <exception>

struct pg_conn;

namespace asio_soci::detail {

/// Starts remembering statement errors on `conn` (a libpq event procedure; what it keeps
/// is freed with the connection). Returns false when libpq refused the registration.
bool remember_aborting_errors(pg_conn* conn) noexcept;
/// The first statement error on `conn` since its last successful statement, as the
/// soci::postgresql_soci_error SOCI threw for it; null when there was none or the
/// connection does not remember. In a failed transaction that is the error that failed
/// it: nothing succeeds there until a rollback (to a savepoint) succeeds.
std::exception_ptr aborting_error(const pg_conn* conn);

}  // namespace asio_soci::detail
