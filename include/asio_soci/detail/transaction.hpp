// Transaction control on a connection, as every part of the library does it (compiled,
// src/drivers/transaction.cpp): the native transaction status decides, so that nothing
// costs a round trip when there is nothing to end.
#pragma once

namespace soci {
class session;
}

namespace asio_soci::detail {

/// Begins a transaction (SQLite: BEGIN IMMEDIATE, so writers queue for the lock).
void begin(soci::session& sql);
/// session::async_begin(): begin(), or std::logic_error when a transaction is open.
void begin_explicitly(soci::session& sql);
/// Commits when a transaction is open; otherwise does nothing. On PostgreSQL, a failed
/// transaction is rolled back and transaction_failed thrown.
void commit_if_open(soci::session& sql);
/// Rolls back when a transaction is open; otherwise does nothing.
void rollback_if_open(soci::session& sql);

}  // namespace asio_soci::detail
