// What the templates of the public headers may ask of the compiled pool (src/core/):
// its types, declared only, and the few calls that are not part of an operation.
#pragma once

#include <asio_soci/retry_policy.hpp>

#include <asio/thread_pool.hpp>

#include <chrono>
#include <exception>
#include <memory>

namespace asio_soci::detail {

using clock = std::chrono::steady_clock;
using worker_executor = asio::thread_pool::executor_type;

class pool;
struct connection_slot;
struct core_access;  // src/core/: the only code that drives the operations' state machines

/// Gives a session's connection back to its pool (session::release()). Never blocks:
/// a connection with work still queued or a transaction open goes back after a reset
/// on its strand.
void end_lease(connection_slot& slot) noexcept;
/// The pool's worker threads.
worker_executor executor_of(pool& p) noexcept;
/// The pool reference an operation drops as it completes, to be kept through the upcall
/// (dropped on the caller's thread, as the last thing): null on a worker of the pool (a
/// handler without an I/O executor, such as use_future's), where it is dropped before the
/// upcall, because the upcall may let main() return and a pool must be gone, or handed
/// to its reaper, before exit begins.
std::shared_ptr<pool> keep_through_upcall(std::shared_ptr<pool> reference) noexcept;
/// True when the pool's sessions run in autocommit mode (pool_options::autocommit).
bool autocommit(const pool& p) noexcept;
/// std::logic_error: an operation was started on an empty session_factory.
std::exception_ptr empty_factory();
/// Why the one-shot form cannot start (an empty factory, a policy without attempts),
/// or null.
std::exception_ptr one_shot_refusal(const pool* p, const retry_policy& retry);

}  // namespace asio_soci::detail
