#include "native_session.hpp"

#include <asio_soci/detail/transaction.hpp>
#include <asio_soci/errors.hpp>

#include <soci/session.h>

#include <stdexcept>

namespace asio_soci::detail {

void begin(soci::session& sql) {
    // SQLite: take the write lock up front. A deferred transaction that reads and then
    // writes cannot wait for another writer (SQLite returns "database is locked" at
    // once rather than deadlock), while BEGIN IMMEDIATE waits up to the busy timeout.
    if (backend_of(sql) == backend::sqlite3)
        execute_native(sql, "BEGIN IMMEDIATE");
    else
        sql.begin();
}

void begin_explicitly(soci::session& sql) {
    const auto state = transaction_status_of(sql);
    if (state == transaction_state::in_transaction || state == transaction_state::failed)
        throw std::logic_error(
            "asio_soci: async_begin: a transaction is already open on this session (calls "
            "begin one when none is open); commit or roll back first");
    begin(sql);
}

void commit_if_open(soci::session& sql) {
    switch (transaction_status_of(sql)) {
        case transaction_state::idle:
            return;
        case transaction_state::failed:
            // PostgreSQL answers COMMIT of a failed transaction with a rollback, and
            // success: say so instead of letting the caller believe its work was kept.
            sql.rollback();
            throw transaction_failed(
                "commit refused: a statement of this transaction failed earlier, so "
                "PostgreSQL had aborted it; it has been rolled back and nothing was committed");
        default:
            sql.commit();
    }
}

void rollback_if_open(soci::session& sql) {
    if (transaction_status_of(sql) != transaction_state::idle)
        sql.rollback();
}

}  // namespace asio_soci::detail
