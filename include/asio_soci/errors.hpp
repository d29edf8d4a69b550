// Exception hierarchy of asio-soci. Every asynchronous operation completes with
// std::exception_ptr, so these types survive any completion token and users catch
// them by meaning. Messages never contain a password.
#pragma once

#include <stdexcept>
#include <string>

namespace asio_soci {

/// Base of every exception thrown by asio-soci itself. Errors raised by SOCI inside a
/// user function keep their own type (soci::soci_error); cancellation arrives as
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
/// failed, so the server had aborted it. It has been rolled back; nothing was committed.
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

}  // namespace asio_soci
