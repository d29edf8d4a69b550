// How the one-shot as_future(factory, fn, retry_policy) reruns a unit of work.
#pragma once

#include <chrono>

namespace asio_soci {

/// Reruns the whole unit of work (begin, fn, commit) when it fails with a transient
/// error (asio_soci::transient_error): PostgreSQL serialization failure (SQLSTATE
/// 40001) or deadlock (40P01), SQLite SQLITE_BUSY or SQLITE_LOCKED. On PostgreSQL
/// that includes an error fn caught: the transaction is failed then, and the commit
/// reports the statement error that failed it. On SQLite an error fn catches is
/// invisible to the library. Each attempt starts from a rolled-back transaction, so fn
/// must be safe to run again. A failed attempt waits (on its worker,
/// holding its connection) for a backoff that doubles from initial_backoff up to max_backoff, with
/// jitter. Nothing is retried once the server has reported a commit as done, and a
/// commit whose outcome is unknown (the connection was lost during it) is reported,
/// never retried: it may have been applied.
struct retry_policy {
    /// Attempts in all, the first included; 1 means no retry.
    unsigned max_attempts = 3;
    std::chrono::milliseconds initial_backoff{10};
    std::chrono::milliseconds max_backoff{1000};
};

}  // namespace asio_soci
