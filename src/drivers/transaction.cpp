#include "error_classification.hpp"
#include "native_session.hpp"
#include "pg_aborting_error.hpp"

#include <asio_soci/detail/transaction.hpp>
#include <asio_soci/errors.hpp>

#include <soci/session.h>

#include <stdexcept>

namespace asio_soci::detail {

namespace {

// A commit of a transaction that a statement error aborted (fn caught the error).
// A transient cause is rethrown as itself, so that retry_policy retries the unit of
// work as it does when fn lets the error through.
[[noreturn]] void refuse_commit(const std::exception_ptr& cause) {
    constexpr const char* outcome =
        "PostgreSQL had aborted it; it has been rolled back and nothing was committed";
    if (!cause)
        throw transaction_failed(
            std::string("commit refused: a statement of this transaction failed earlier, so ") +
            outcome);
    try {
        std::rethrow_exception(cause);
    } catch (transient_error& e) {
        e.add_context(std::string("while committing: a statement had failed with this error, "
                                  "which the unit of work caught, so ") +
                      outcome);
        throw;
    } catch (const soci::soci_error& e) {
        throw transaction_failed(
            std::string("commit refused: a statement of this transaction failed earlier (") +
            e.get_error_message() + "), so " + outcome);
    }
}

}  // namespace

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
        case transaction_state::failed: {
            // PostgreSQL answers COMMIT of a failed transaction with a rollback, and
            // success: say so instead of letting the caller believe its work was kept.
            auto cause = aborting_error(postgresql_handle(sql));
            if (cause)
                cause = classify_error(cause, false);
            sql.rollback();
            refuse_commit(cause);
        }
        default:
            sql.commit();
    }
}

void rollback_if_open(soci::session& sql) {
    if (transaction_status_of(sql) != transaction_state::idle)
        sql.rollback();
}

}  // namespace asio_soci::detail
