// The zero-hop PostgreSQL path, as the pool's strand sees it.
#pragma once

namespace asio_soci::detail {

struct connection_slot;
class pg_operation;

/// The strand has lent the connection to `op` (pool::lend): runs its exchange from the
/// calling thread on, or ends it unrun when it was cancelled meanwhile.
void start_pg_exchange(connection_slot& slot, pg_operation& op) noexcept;

}  // namespace asio_soci::detail
