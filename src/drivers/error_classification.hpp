// Driver errors as the library's database_error types (see errors.hpp).
#pragma once

#include <exception>

namespace asio_soci::detail {

/// True for errors a retry_policy retries: serialization failures, deadlocks, busy.
bool is_transient(const std::exception_ptr& error) noexcept;
/// A driver error the library recognises, as the matching database_error type (a
/// PostgreSQL error on a connection that `connection_broken` becomes connection_lost);
/// any other exception unchanged.
std::exception_ptr classify_error(const std::exception_ptr& error, bool connection_broken);

}  // namespace asio_soci::detail
