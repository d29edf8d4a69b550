// Exception hierarchy of asio-soci. Every asynchronous operation completes with
// std::exception_ptr, so these types survive any completion token and users catch
// them by meaning. Messages never contain a password.
#pragma once

#include <soci/error.h>

#include <exception>
#include <stdexcept>
#include <string>

namespace asio_soci {

/// Base of every exception thrown by asio-soci itself. Errors raised by SOCI inside a
/// user function arrive as soci::soci_error, as one of the database_error types below
/// when the library recognises the driver's code; cancellation arrives as
/// asio::system_error with asio::error::operation_aborted.
class error : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

/// A database URL could not be parsed; the message names the offending part.
class url_error : public error {
public:
    using error::error;
};

/// No connection became free within pool_options::acquire_timeout: the pool is
/// exhausted (every connection is leased), not the database slow to answer.
class pool_timeout : public error {
public:
    using error::error;
};

/// A new connection could not be opened (or the on_connect hook failed). The message
/// names the database (password masked) and carries the driver's reason.
class connection_error : public error {
public:
    using error::error;
};

/// An operation was attempted on an empty (moved-from or released) session.
class invalid_session : public error {
public:
    using error::error;
};

/// async_commit() found the transaction failed: on PostgreSQL a statement of it had
/// failed (and fn caught the error), so the server had aborted it. It has been rolled
/// back; nothing was committed. The message quotes the statement's error. When that error
/// was a serialization failure or a deadlock, the commit fails with it instead, as a
/// transient_error that retry_policy retries.
class transaction_failed : public error {
public:
    using error::error;
};

/// Migrations cannot be loaded or applied: a bad file name, a gap in the numbering, an
/// applied migration that changed or is missing, or a failing migration (the message
/// names the file, the line and the statement; that migration was rolled back).
class migration_error : public error {
public:
    using error::error;
};

/// A statement failed for a reason asio-soci recognises on every backend (the table in
/// docs/errors.md). It is SOCI's error, copied with its message and context, under a
/// type that says what happened: it derives from soci::soci_error, so code that catches
/// SOCI's errors still catches it (but no longer as the backend's own error type).
class database_error : public soci::soci_error {
public:
    database_error(const soci::soci_error& original, std::string sqlstate, int native_code,
                   std::string constraint);

    /// PostgreSQL's SQLSTATE ("23505"); empty on SQLite.
    const std::string& sqlstate() const noexcept { return sqlstate_; }
    /// SQLite's extended result code (2067: SQLITE_CONSTRAINT_UNIQUE); 0 on PostgreSQL.
    int native_code() const noexcept { return native_code_; }
    /// What the statement broke, as the driver names it: PostgreSQL, the constraint's
    /// name ("users_email_key"), or "table.column" for a NOT NULL; SQLite, the columns
    /// ("users.email") or the CHECK constraint. Empty when the driver does not say (a
    /// SQLite foreign key, a server whose messages are not in English).
    const std::string& constraint() const noexcept { return constraint_; }

private:
    std::string sqlstate_;
    int native_code_ = 0;
    std::string constraint_;
};

/// The statement broke an integrity constraint (PostgreSQL class 23, SQLite
/// SQLITE_CONSTRAINT); one of the four types below when the driver says which kind.
class integrity_error : public database_error {
public:
    using database_error::database_error;
    error_category get_error_category() const override { return constraint_violation; }
};
/// A UNIQUE or PRIMARY KEY constraint: the row exists already (23505).
class unique_violation : public integrity_error {
public:
    using integrity_error::integrity_error;
};
/// A FOREIGN KEY constraint: the referenced row is missing, or still referenced (23503).
class foreign_key_violation : public integrity_error {
public:
    using integrity_error::integrity_error;
};
/// A NOT NULL constraint (23502).
class not_null_violation : public integrity_error {
public:
    using integrity_error::integrity_error;
};
/// A CHECK constraint (23514).
class check_violation : public integrity_error {
public:
    using integrity_error::integrity_error;
};

/// The database refused the statement for now, and the same work may succeed if run
/// again: what retry_policy retries.
class transient_error : public database_error {
public:
    using database_error::database_error;
};
/// PostgreSQL could not serialize the transaction with concurrent ones (40001).
class serialization_failure : public transient_error {
public:
    using transient_error::transient_error;
};
/// PostgreSQL broke a deadlock by failing this transaction (40P01).
class deadlock_detected : public transient_error {
public:
    using transient_error::transient_error;
};
/// SQLite: another connection holds the lock past the busy timeout (SQLITE_BUSY,
/// SQLITE_LOCKED).
class database_busy : public transient_error {
public:
    using transient_error::transient_error;
};

/// The connection broke during the statement (PostgreSQL class 08, or a connection
/// that is no longer usable after the error). The pool replaces it.
class connection_lost : public database_error {
public:
    using database_error::database_error;
    error_category get_error_category() const override { return connection_error; }
};

/// `e.what()` made fit for a log line: one line (a driver's newlines and tabs become
/// spaces). For a soci::soci_error, unless `with_values`, without what may be personal
/// data: the bound values SOCI appends to its message (`with :name="ann"`) and the
/// driver's DETAIL line (PostgreSQL quotes the conflicting row's values there); the
/// driver's message and the statement's text stay.
std::string log_message(const std::exception& e, bool with_values = false);

}  // namespace asio_soci
